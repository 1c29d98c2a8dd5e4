/**
 * One engine measurement of `gpt-lab bench`, in a process of its own so that its peak resident memory is its
 * own (ru_maxrss, as the PyTorch peer's is measured): `node benchChild.js '<spec JSON>'` prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { BackendPreference, initBackend } from '../core/backend';
import { GPTConfig, parameterCount } from '../core/model/config';
import { GPT } from '../core/model/gpt';
import {
  BatchGenerateOptions,
  BatchRow,
  CachedDecoder,
  generate,
  generateBatch,
  GenerateOptions,
  GenerateResult,
} from '../core/sample';
import type { Tokenizer } from '../core/tokenizer';
import { AdamW } from '../core/train/adamw';
import { defaultTrainConfig } from '../core/train/config';
import type { Batch } from '../core/train/data';
import { ReplicaPool } from '../core/train/parallel/pool';
import type { TrainTask } from '../core/train/task';
import { trainStep } from '../core/train/trainer';

export type ChildSpec =
  | {
      kind: 'train';
      model: GPTConfig;
      batch: number;
      steps: number;
      warmup: number;
      data: string;
      /** Data-parallel replicas (worker threads, src/core/train/parallel); absent or 1: the loop's thread alone. */
      replicas?: number;
    }
  | {
      kind: 'gen';
      model: GPTConfig;
      data: string;
      batchRows: number;
      /** Timed runs of each measurement, none untimed (tests: 1); default the median of 5 after 4 (3 after 2). */
      runs?: number;
    }
  | { kind: 'matmul'; n: number };

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** FLOPs per trained token, as the performance notes count them: 6·N (no position table) + 12·L·d·T. */
export function flopsPerToken(c: GPTConfig): number {
  const n = parameterCount({ ...c, positionEncoding: 'sinusoidal' });
  return 6 * n + 12 * c.nLayer * c.nEmbd * c.contextLength;
}

/** The data file's bytes modulo the vocabulary, as the peer reads it. */
function tokens(file: string, vocab: number): Int32Array {
  const bytes = readFileSync(file);
  return Int32Array.from(bytes, (b) => b % vocab);
}

type TrainSpec = Extract<ChildSpec, { kind: 'train' }>;

/** How a backend runs the measured steps on the model and AdamW that measureTraining made. */
export interface BenchStepper {
  replicas: number;
  step(b: Batch): { loss: number; allReduceMs?: number } | Promise<{ loss: number; allReduceMs?: number }>;
  dispose(): Promise<void>;
}

/**
 * The training measurement of every backend: the same data, seed, model and AdamW, batches drawn as the peer
 * draws them, warm-up steps left out of the median; `stepper` says how a step runs (wasm: here, on replicas or
 * one thread; webgpu: benchWebgpu.ts, reading asynchronously).
 */
export async function measureTraining(
  spec: TrainSpec,
  stepper: (m: GPT, opt: AdamW) => Promise<BenchStepper>,
): Promise<Record<string, unknown>> {
  const { model, batch: B, steps, warmup } = spec;
  const T = model.contextLength;
  const data = tokens(spec.data, model.vocabSize);
  const m = GPT.create(model, 0);
  const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const run = await stepper(m, opt);
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * (data.length - T - 1);
  const times: number[] = [];
  const allReduce: number[] = [];
  const losses: number[] = [];
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const x = new Int32Array(B * T);
      const y = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        const at = Math.floor(rand());
        x.set(data.subarray(at, at + T), b * T);
        y.set(data.subarray(at + 1, at + 1 + T), b * T);
      }
      const t0 = performance.now();
      const r = await run.step({ x, y, B, T });
      if (i >= warmup) {
        times.push(performance.now() - t0);
        if (r.allReduceMs !== undefined) allReduce.push(r.allReduceMs);
      }
      losses.push(r.loss);
    }
  } finally {
    await run.dispose();
  }
  const ms = median(times);
  const tokPerSec = (B * T * 1000) / ms;
  return {
    params: parameterCount(model),
    batch: B,
    replicas: run.replicas,
    stepMsMedian: +ms.toFixed(1),
    ...(allReduce.length && { allReduceMsMedian: +median(allReduce).toFixed(1) }),
    tokPerSec: Math.round(tokPerSec),
    achievedGFLOPs: +((tokPerSec * flopsPerToken(model)) / 1e9).toFixed(2),
    lossFirst: +losses[0].toFixed(4),
    lossLast: +losses[losses.length - 1].toFixed(4),
  };
}

/** On the replicas (worker threads, gradients all-reduced) or, with one, on this thread, synchronously. */
function train(spec: TrainSpec) {
  return measureTraining(spec, async (m, opt) => {
    const replicas = Math.max(1, spec.replicas ?? 1);
    const T = spec.model.contextLength;
    // The replicas build the same AdamW from the config (buildOptimizer) and start from this model and optimizer.
    const pool =
      replicas > 1
        ? new ReplicaPool(
            replicas,
            defaultTrainConfig('tiny', { model: spec.model, batchSize: spec.batch, optimizer: 'adamw' }),
          )
        : undefined;
    await pool?.start(m, m.params, opt);
    const task = {
      loss: (b: Batch) => ({ loss: m.loss(tf.tensor2d(b.x, [b.B, T], 'int32'), tf.tensor2d(b.y, [b.B, T], 'int32')) }),
    } as TrainTask<Batch>;
    return {
      replicas,
      step: (b: Batch) => (pool ? pool.step(task, b, 1e-3, 1) : trainStep(m, opt, b, 1e-3, 1)),
      dispose: async () => pool?.dispose(),
    };
  });
}

type GenSpec = Extract<ChildSpec, { kind: 'gen' }>;
type Maybe<T> = T | Promise<T>;

/** How a backend generates: wasm and cpu synchronously, webgpu (benchWebgpu.ts) reading each step asynchronously. */
export interface BenchGenerator {
  one(m: GPT, tok: Tokenizer, prompt: number[], opts: GenerateOptions): Maybe<GenerateResult>;
  batch(m: GPT, tok: Tokenizer, rows: number[][], opts: BatchGenerateOptions): Maybe<BatchRow[]>;
}
const SYNC_GENERATOR: BenchGenerator = { one: generate, batch: generateBatch };

/**
 * Greedy generation of 32 tokens after a 64-token prompt (shorter in a short context), as the peer measures it:
 * batch 1 with the KV cache and recomputing every window, and `batchRows` rows at once.
 */
export async function measureGeneration(spec: GenSpec, g: BenchGenerator): Promise<Record<string, unknown>> {
  const { model } = spec;
  const m = GPT.create(model, 0);
  const data = tokens(spec.data, model.vocabSize);
  const tok = { specials: { endOfText: -1 }, decodeText: () => '' } as unknown as Tokenizer;
  const P = Math.min(64, model.contextLength - 32);
  const prompt = Array.from(data.subarray(1000, 1000 + P));
  // Steady state, as the peer's: V8 runs a new wasm module's baseline code until its optimised code lands (in
  // the background, a few calls in on a busy machine), so a few warm-up calls; then the median of five.
  const timed = async <T>(f: () => Maybe<T>, warmup = 4, runs = 5): Promise<{ ms: number; out: T }> => {
    if (spec.runs) [warmup, runs] = [0, spec.runs];
    for (let r = 0; r < warmup; r++) await f();
    const times: number[] = [];
    let out = undefined as T;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      out = await f();
      times.push(performance.now() - t0);
    }
    return { ms: median(times), out };
  };
  const one = async (noCache: boolean) =>
    (await g.one(m, tok, prompt, { maxTokens: 32, temperature: 0, noCache })).tokens;
  const kv = await timed(() => one(false));
  const full = await timed(() => one(true), 2, 3);
  const R = spec.batchRows;
  const rows = Array.from({ length: R }, (_, r) => Array.from(data.subarray(1000 + 97 * r, 1000 + 97 * r + P)));
  const batch = R > 0 ? await timed(() => g.batch(m, tok, rows, { maxTokens: 32, temperature: 0 })) : undefined;
  m.dispose();
  return {
    promptTokens: P,
    kvCache_32tok_ms: +kv.ms.toFixed(1),
    kvCache_msPerToken: +(kv.ms / 32).toFixed(3),
    fullRecompute_32tok_ms: +full.ms.toFixed(1),
    kvMatchesFull: kv.out.join() === full.out.join(),
    kvTokens: kv.out,
    ...(batch && {
      batch: {
        rows: R,
        newTokens: 32,
        ms: +batch.ms.toFixed(1),
        tokPerSec: Math.round((R * 32 * 1000) / batch.ms),
        // CPU backends keep each row's KV cache (CachedDecoder); elsewhere every step recomputes the rows' windows.
        kvCache: CachedDecoder.suits(),
      },
    }),
  };
}

/**
 * The engine's own fp32 matmul speed (n³, non-transposed: XNNPACK's fast path on wasm), each product timed until
 * `read` has its result (webgpu reads it asynchronously).
 */
export async function matmul(n: number, read = (c: tf.Tensor): unknown => c.dataSync()) {
  const a = tf.randomNormal([n, n]) as tf.Tensor2D;
  const b = tf.randomNormal([n, n]) as tf.Tensor2D;
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await read(c);
    c.dispose();
    if (i >= 2) times.push(performance.now() - t0);
  }
  tf.dispose([a, b]);
  return { n, GFLOPs: +((2 * n ** 3) / (Math.min(...times) / 1000) / 1e9).toFixed(2) };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ChildSpec;
  const backend = await initBackend((process.env.GPT_LAB_BENCH_BACKEND as BackendPreference) || 'wasm');
  if (backend.name === 'webgpu') {
    // It reads tensors only asynchronously in Node: its runs are in benchWebgpu.ts.
    const onGpu = await (await import('./benchWebgpu.js')).benchOnWebGpu(spec);
    const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    process.stdout.write(
      JSON.stringify({ ...onGpu, backend: backend.name, adapter: backend.adapter, peakRssMiB }) + '\n',
    );
    return;
  }
  const result =
    spec.kind === 'train'
      ? await train(spec)
      : spec.kind === 'gen'
        ? await measureGeneration(spec, SYNC_GENERATOR)
        : await matmul(spec.n);
  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(JSON.stringify({ ...result, backend: backend.name, peakRssMiB }) + '\n');
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(String(e?.stack ?? e) + '\n');
    process.exit(1);
  });
}
