// `node out/bench/profile.js [--arch modern|gpt2|both] [--configs A,B,small] [--steps N]`: where one training
// step's time goes, by tfjs kernel (tf.profile), for the bench's configs. Prints JSON (stdout) and a table
// (stderr): kernels per step, milliseconds per kernel type, the step's wall time outside the profiler, and its CPU
// time split by module (cpuSplit.ts: gemm.c, kernels.c, tfjs's wasm, JS, GC).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/core/backend';
import { GPTConfig, PRESETS, withArchitecture } from '../src/core/model/config';
import { GPT } from '../src/core/model/gpt';
import { AdamW } from '../src/core/train/adamw';
import { trainStep } from '../src/core/train/trainer';
import { cpuSplit } from './cpuSplit';

const CONFIGS: Record<string, { model: GPTConfig; batch: number }> = {
  A: {
    model: { vocabSize: 512, contextLength: 64, nEmbd: 64, nLayer: 2, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
  B: {
    model: { vocabSize: 2048, contextLength: 128, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
  small: { model: PRESETS.small.model, batch: PRESETS.small.batchSize },
};

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};

function batch(m: GPTConfig, B: number, seed: number) {
  const T = m.contextLength;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  let s = seed;
  for (let i = 0; i < B * T; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = s % m.vocabSize;
    y[i] = (s >>> 8) % m.vocabSize;
  }
  return { x, y, B, T };
}

interface Row {
  kernel: string;
  count: number;
  ms: number;
}

async function profileOne(model: GPTConfig, B: number, steps: number) {
  const m = GPT.create(model, 0);
  const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  for (let i = 0; i < 3; i++) trainStep(m, opt, batch(model, B, i), 1e-3, 1);
  const wall: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    trainStep(m, opt, batch(model, B, 10 + i), 1e-3, 1);
    wall.push(performance.now() - t0);
  }
  wall.sort((a, b) => a - b);
  const byKernel = new Map<string, Row>();
  let kernels = 0;
  let kernelMs = 0;
  for (let i = 0; i < steps; i++) {
    const info = await tf.profile(() => {
      trainStep(m, opt, batch(model, B, 100 + i), 1e-3, 1);
    });
    for (const k of info.kernels) {
      const ms = Number(k.kernelTimeMs) || 0;
      const key =
        k.name === 'BatchMatMul' || k.name === '_FusedMatMul'
          ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join('×')}`
          : k.name;
      const r = byKernel.get(key) ?? { kernel: key, count: 0, ms: 0 };
      r.count += 1 / steps;
      r.ms += ms / steps;
      byKernel.set(key, r);
      kernels += 1 / steps;
      kernelMs += ms / steps;
    }
  }
  // CPU time by module (gemm.c, kernels.c, tfjs's wasm, JS, GC): compute against per-op overhead.
  let seed = 1000;
  const split = await cpuSplit(() => trainStep(m, opt, batch(model, B, seed++), 1e-3, 1), Math.max(steps, 5));
  opt.dispose();
  m.dispose();
  const stepMs = wall[Math.floor(wall.length / 2)];
  const rows = [...byKernel.values()].sort((a, b) => b.ms - a.ms);
  return {
    stepMs: +stepMs.toFixed(1),
    tokPerSec: Math.round((B * model.contextLength * 1000) / stepMs),
    kernelsPerStep: Math.round(kernels),
    kernelMs: +kernelMs.toFixed(1),
    cpuSplit: split,
    rows: rows.map((r) => ({ kernel: r.kernel, count: +r.count.toFixed(1), ms: +r.ms.toFixed(2) })),
  };
}

async function main() {
  await initBackend('wasm');
  const archs = arg('arch', 'both') === 'both' ? ['modern', 'gpt2'] : [arg('arch', 'modern')];
  const names = arg('configs', 'A,B,small').split(',');
  const steps = Number(arg('steps', '3'));
  const out: Record<string, unknown> = {};
  for (const arch of archs) {
    for (const name of names) {
      const c = CONFIGS[name];
      const model = withArchitecture({ model: c.model }, arch as 'modern' | 'gpt2').model;
      const r = await profileOne(model, c.batch, steps);
      out[`${name}/${arch}`] = r;
      const top = r.rows
        .slice(0, 14)
        .map((x) => `  ${x.kernel.padEnd(48)} ${String(x.count).padStart(6)} × ${x.ms.toFixed(2).padStart(8)} ms`);
      const split = Object.entries(r.cpuSplit.msPerStep)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      process.stderr.write(
        `${name}/${arch}: step ${r.stepMs} ms (${r.tokPerSec} tok/s), ${r.kernelsPerStep} kernels, ` +
          `${r.kernelMs} ms in kernels (profiled)\n${top.join('\n')}\n  CPU ${r.cpuSplit.cpuMsPerStep} ms per step: ${split}\n`,
      );
    }
  }
  process.stdout.write(JSON.stringify({ load: (await import('node:os')).loadavg(), ...out }, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
