/**
 * `gpt-lab bench --backend webgpu`'s measurements in the child process. tfjs-webgpu cannot read a tensor
 * synchronously in Node, so training reads each step's loss with `await data()` (trainStepAsync) and the matmul
 * waits for its result the same way; generation reads every token synchronously and is not measured here.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { GPTConfig, parameterCount } from '../core/model/config';
import { GPT } from '../core/model/gpt';
import { AdamW } from '../core/train/adamw';
import { trainStepAsync } from '../core/train/trainer';
import type { ChildSpec } from './benchChild';
import { flopsPerToken, median } from './benchChild';

type Json = Record<string, unknown>;

export async function benchOnWebGpu(spec: ChildSpec): Promise<Json> {
  if (spec.kind === 'train') return train(spec.model, spec.batch, spec.steps, spec.warmup, spec.data);
  if (spec.kind === 'matmul') return matmul(spec.n);
  return {
    skipped: 'generation on webgpu: the sampler reads each token synchronously, which tfjs-webgpu cannot in Node',
  };
}

/** As benchChild's train (same data, seed and AdamW), one thread: a GPU backend has no data-parallel replicas. */
async function train(model: GPTConfig, B: number, steps: number, warmup: number, file: string): Promise<Json> {
  const T = model.contextLength;
  const data = Int32Array.from(readFileSync(file), (b) => b % model.vocabSize);
  const m = GPT.create(model, 0);
  const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * (data.length - T - 1);
  const times: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const at = Math.floor(rand());
      x.set(data.subarray(at, at + T), b * T);
      y.set(data.subarray(at + 1, at + 1 + T), b * T);
    }
    const t0 = performance.now();
    const { loss } = await trainStepAsync(m, opt, { x, y, B, T }, 1e-3, 1);
    if (i >= warmup) times.push(performance.now() - t0);
    losses.push(loss);
  }
  const ms = median(times);
  const tokPerSec = (B * T * 1000) / ms;
  return {
    params: parameterCount(model),
    batch: B,
    replicas: 1,
    stepMsMedian: +ms.toFixed(1),
    tokPerSec: Math.round(tokPerSec),
    achievedGFLOPs: +((tokPerSec * flopsPerToken(model)) / 1e9).toFixed(2),
    lossFirst: +losses[0].toFixed(4),
    lossLast: +losses[losses.length - 1].toFixed(4),
  };
}

async function matmul(n: number): Promise<Json> {
  const a = tf.randomNormal([n, n]) as tf.Tensor2D;
  const b = tf.randomNormal([n, n]) as tf.Tensor2D;
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    if (i >= 2) times.push(performance.now() - t0);
  }
  tf.dispose([a, b]);
  return { n, GFLOPs: +((2 * n ** 3) / (Math.min(...times) / 1000) / 1e9).toFixed(2) };
}
