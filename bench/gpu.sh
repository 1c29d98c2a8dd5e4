#!/usr/bin/env bash
# The GPU benchmark, for a machine with a GPU and its Vulkan (Linux, Windows), Metal (macOS) or D3D12 driver:
#   bash bench/gpu.sh [OUT_DIR]    (QUICK=1: fewer steps; PYTHON=…: the python with torch; NO_INSTALL=1: skip npm ci)
# Installs what it needs (npm ci, with the optional webgpu packages), checks that Dawn finds a hardware adapter,
# runs the engine's benchmark on the webgpu backend (`node out/bench/run.js --backend webgpu`: training, and generation
# at batch 1 and batched with wasm's generation on the CPU measured in the same rounds beside it), then, where torch
# sees CUDA, the PyTorch peer on the GPU with the same configs and data. Everything lands as JSON in OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.artifacts/gpu-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
python="${PYTHON:-python3}"
log() { printf '%s\n' "--- $*" >&2; }

if [[ -z "${NO_INSTALL:-}" ]]; then
  log "npm ci (the optional packages webgpu and @tensorflow/tfjs-backend-webgpu come with it)"
  npm ci --no-audit --no-fund >&2
fi
if ! node --input-type=module -e "await import('webgpu')" 2>/dev/null; then
  log "webgpu did not install with npm ci: installing it on its own"
  npm install --no-save --no-audit --no-fund webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0 >&2
fi
npx tsc -p . >&2

log "the WebGPU adapter"
node -e "require('./out/src/core/backend').initBackend('webgpu').then((i) => console.log(JSON.stringify(i)))" \
  >"$out/adapter.json"
cat "$out/adapter.json" >&2
if grep -q '"adapter":"[^"]*software' "$out/adapter.json"; then
  log "WARNING: Dawn found only a software adapter (no GPU driver it accepts): these are not GPU figures"
fi

log "the engine on webgpu, generation beside wasm's (node out/bench/run.js --backend webgpu${QUICK:+ --quick})"
node out/bench/run.js --backend webgpu ${QUICK:+--quick} >"$out/engine-webgpu.json"

# The peer on the same data: the first MiB of typescript.js, bytes modulo the vocabulary (as src/cli/bench.ts).
data="$out/data.js"
head -c 1048576 node_modules/typescript/lib/typescript.js >"$data"
if "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  steps=$([[ -n "${QUICK:-}" ]] && echo 3 || echo 20)
  small=$(node -e "const m = require('./out/src/core/model/config').PRESETS.small; \
    console.log(['--vocab', m.model.vocabSize, '--ctx', m.model.contextLength, '--d', m.model.nEmbd, \
    '--layers', m.model.nLayer, '--heads', m.model.nHead, '--batch', m.batchSize].join(' '))")
  for config in A B small; do
    log "the PyTorch peer on CUDA, config $config"
    if [[ $config == small ]]; then size=($small); else size=(--config "$config"); fi
    gen=(--nogen)
    [[ $config == B ]] && gen=(--genbatch 8)
    "$python" bench/peer/gpt_torch.py "${size[@]}" --device cuda --data "$data" --steps "$steps" --warmup 3 \
      "${gen[@]}" >"$out/peer-cuda-$config.jsonl"
  done
else
  log "no torch with CUDA for $python: the PyTorch peer is left out"
fi
log "done: $out"
ls "$out" >&2
