/**
 * Speed and memory of the engine on this machine, as JSON (not a timed test):
 * training tokens/s for the facts file's configs A and B and each preset, generation ms/token with and without
 * the KV cache, tokenizer training and encoding speed; optionally the PyTorch peer in the same run.
 * `gpt-lab bench` runs it; `npm run bench` through bench/run.ts. (It lives in the CLI, which may not import bench/.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendPreference, initBackend } from '../core/backend';
import { GPTConfig, parameterCount, PRESETS } from '../core/model/config';
import { GPT } from '../core/model/gpt';
import { generate } from '../core/sample';
import { trainTokenizer } from '../core/tokenizer';
import { AdamW } from '../core/train/adamw';
import { trainStep } from '../core/train/trainer';

const CONFIGS: Record<string, { model: GPTConfig; batch: number }> = {
  A: {
    model: { vocabSize: 512, contextLength: 64, nEmbd: 64, nLayer: 2, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
  B: {
    model: { vocabSize: 2048, contextLength: 128, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** FLOPs per trained token, as the facts file counts them: 6·N (no position table) + 12·L·d·T. */
function flopsPerToken(c: GPTConfig): number {
  const n = parameterCount({ ...c, positionEncoding: 'sinusoidal' });
  return 6 * n + 12 * c.nLayer * c.nEmbd * c.contextLength;
}

function benchTraining(model: GPTConfig, batch: number, steps: number, warmup: number) {
  const m = GPT.create(model, 0);
  const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const T = model.contextLength;
  const x = Int32Array.from({ length: batch * T }, (_, i) => (i * 7919 + 13) % model.vocabSize);
  const y = Int32Array.from({ length: batch * T }, (_, i) => (i * 104729 + 7) % model.vocabSize);
  const times: number[] = [];
  let first = NaN;
  let last = NaN;
  const tensorsBefore = tf.memory().numTensors;
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const { loss } = trainStep(m, opt, { x, y, B: batch, T }, 1e-3, 1);
    if (i >= warmup) times.push(performance.now() - t0);
    if (i === 0) first = loss;
    last = loss;
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  m.dispose();
  opt.dispose();
  const ms = median(times);
  const tokPerSec = (batch * T * 1000) / ms;
  return {
    params: parameterCount(model),
    batch,
    stepMsMedian: +ms.toFixed(1),
    tokPerSec: Math.round(tokPerSec),
    achievedGFLOPs: +((tokPerSec * flopsPerToken(model)) / 1e9).toFixed(2),
    lossFirst: +first.toFixed(4),
    lossLast: +last.toFixed(4),
    leakedTensors: leaked,
    rssMB: Math.round(process.memoryUsage().rss / 1e6),
  };
}

function benchGeneration(model: GPTConfig) {
  const m = GPT.create(model, 0);
  const tokLike = { specials: { endOfText: -1 }, decodeText: () => '' } as unknown as Parameters<typeof generate>[1];
  const prompt = Array.from(
    { length: Math.min(64, model.contextLength - 32) },
    (_, i) => (i * 31 + 5) % model.vocabSize,
  );
  const run = (noCache: boolean) => {
    generate(m, tokLike, prompt, { maxTokens: 4, temperature: 0, noCache });
    const times: number[] = [];
    let tokens: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      tokens = generate(m, tokLike, prompt, { maxTokens: 32, temperature: 0, noCache }).tokens;
      times.push(performance.now() - t0);
    }
    return { ms32: median(times), tokens };
  };
  const kv = run(false);
  const full = run(true);
  m.dispose();
  return {
    promptTokens: prompt.length,
    kvCache_32tok_ms: +kv.ms32.toFixed(1),
    kvCache_msPerToken: +(kv.ms32 / 32).toFixed(2),
    fullRecompute_32tok_ms: +full.ms32.toFixed(1),
    kvMatchesFull: kv.tokens.join() === full.tokens.join(),
  };
}

/** A few MB of real code: TypeScript's own compiler sources (a dev dependency). */
function codeCorpus(maxBytes: number): Uint8Array[] {
  const dir = path.dirname(require.resolve('typescript/package.json')) + '/lib';
  const docs: Uint8Array[] = [];
  let total = 0;
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.js'))
    .sort()) {
    if (total >= maxBytes) break;
    const b = readFileSync(path.join(dir, f)).subarray(0, maxBytes - total);
    docs.push(b);
    total += b.length;
  }
  return docs;
}

function benchTokenizer(mb: number) {
  const docs = codeCorpus(mb * 1e6);
  const bytes = docs.reduce((n, d) => n + d.length, 0);
  const t0 = performance.now();
  const tok = trainTokenizer(docs, { vocabSize: 2048 });
  const trainS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let tokens = 0;
  for (const d of docs) tokens += tok.encode(d).length;
  const encodeS = (performance.now() - t1) / 1000;
  return {
    corpusMB: +(bytes / 1e6).toFixed(2),
    vocab: 2048,
    trainSeconds: +trainS.toFixed(2),
    encodeMBps: +(bytes / 1e6 / encodeS).toFixed(1),
    bytesPerToken: +(bytes / tokens).toFixed(2),
  };
}

function benchPeer(config: string, script: string) {
  try {
    const outText = execFileSync(
      '/usr/bin/python3',
      [script, '--config', config, '--threads', '2', '--steps', '10', '--warmup', '3'],
      {
        env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
        encoding: 'utf8',
        timeout: 600_000,
      },
    );
    const lines = outText
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    return Object.assign({}, ...lines);
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  }
}

export async function runBenchmarks(opts: {
  quick?: boolean;
  peer?: boolean;
  backend?: BackendPreference;
  peerScript?: string;
}): Promise<void> {
  const backend = await initBackend(opts.backend ?? 'wasm');
  const steps = opts.quick ? 4 : 10;
  const log = (m: string) => process.stderr.write(m + '\n');
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    backend: backend.name,
    train: {} as Record<string, unknown>,
  };
  const train = result.train as Record<string, unknown>;
  for (const [name, c] of Object.entries(CONFIGS)) {
    log(`training, config ${name}…`);
    train[`config${name}`] = benchTraining(c.model, c.batch, steps, 2);
  }
  for (const p of Object.values(PRESETS)) {
    log(`training, preset ${p.name}…`);
    train[p.name] = benchTraining(p.model, p.batchSize, p.name === 'base' ? Math.max(2, steps / 2) : steps, 1);
  }
  log('generation…');
  result.generation = { configB: benchGeneration(CONFIGS.B.model), tiny: benchGeneration(PRESETS.tiny.model) };
  log('tokenizer…');
  result.tokenizer = benchTokenizer(opts.quick ? 1 : 3);
  if (opts.peer) {
    const script = opts.peerScript ?? path.resolve(__dirname, '../../../../shared/peers/gpt_torch.py');
    if (existsSync('/usr/bin/python3') && existsSync(script)) {
      log('PyTorch peer, configs A and B…');
      result.peer = { script, configA: benchPeer('A', script), configB: benchPeer('B', script) };
    } else result.peer = { error: `no /usr/bin/python3 or no peer script at ${script}` };
  }
  const json = JSON.stringify(result, null, 2);
  const dir = path.resolve(__dirname, '../../../.artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'bench.json'), json + '\n');
  process.stdout.write(json + '\n');
}
