// `node out/bench/matmul.js [--configs A,B,small] [--rounds 9]`: GFLOP/s of one thread's fp32 matmuls at the
// shapes a training step multiplies (each linear layer's forward x·W, backward dy·Wᵀ and xᵀ·dy, operands laid
// out untransposed as ops.ts hands them over), through tf.matMul on the wasm backend: tfjs's own kernel
// (XNNPACK) against gemm.c (src/core/kernels/gemm.ts) plain and with relaxed SIMD's FMA; plus the transposed
// flags, which tfjs multiplies in a scalar loop. Alternates the three in each round; the median of the rounds,
// by the process's CPU time (the machine is shared: wall time counts other processes' turns) and by wall time.
// Prints JSON.
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/core/backend';
import { fastKernelsActive, setFastKernels } from '../src/core/kernels';
import { gemmVariant, setGemmVariant } from '../src/core/kernels/gemm';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};

/** Rows (batch × context), width, vocabulary: the bench's configs. */
const CONFIGS: Record<string, { rows: number; C: number; V: number }> = {
  A: { rows: 16 * 64, C: 64, V: 512 },
  B: { rows: 16 * 128, C: 128, V: 2048 },
  small: { rows: 8 * 256, C: 128, V: 2048 },
};

interface Case {
  name: string;
  M: number;
  K: number;
  N: number;
  transA?: boolean;
  transB?: boolean;
}

/** The three products of each linear layer [in → out] over `rows` rows. */
function cases(rows: number, C: number, V: number): Case[] {
  const layers: [string, number, number][] = [
    ['qkv', C, 3 * C],
    ['proj', C, C],
    ['fc', C, 4 * C],
    ['fc2', 4 * C, C],
    ['head', C, V],
  ];
  return layers.flatMap(([n, i, o]) => [
    { name: `${n} x·W`, M: rows, K: i, N: o },
    { name: `${n} dy·Wᵀ`, M: rows, K: o, N: i },
    { name: `${n} xᵀ·dy`, M: i, K: rows, N: o },
  ]);
}

type Engine = 'xnnpack' | 'plain' | 'relaxed';

function useEngine(e: Engine): void {
  setFastKernels(e !== 'xnnpack');
  if (e !== 'xnnpack') setGemmVariant(e);
}

function measure(c: Case, rounds: number): Record<string, number | string> {
  const a = tf.randomNormal(c.transA ? [c.K, c.M] : [c.M, c.K]);
  const b = tf.randomNormal(c.transB ? [c.N, c.K] : [c.K, c.N]);
  // XNNPACK gets the operands already laid out as it needs them (no transpose timed): a bound for tfjs.
  const aPlain = c.transA ? tf.transpose(a) : a;
  const bPlain = c.transB ? tf.transpose(b) : b;
  const flops = 2 * c.M * c.K * c.N;
  const reps = Math.max(2, Math.round(4e7 / flops));
  const engines: Engine[] = ['xnnpack', 'plain', 'relaxed'];
  const run = (e: Engine) => {
    useEngine(e);
    for (let i = 0; i < reps; i++) {
      const y = e === 'xnnpack' ? tf.matMul(aPlain, bPlain) : tf.matMul(a, b, c.transA, c.transB);
      y.dispose();
    }
  };
  const ref = (() => {
    useEngine('xnnpack');
    return tf.matMul(aPlain, bPlain).dataSync();
  })();
  const row: Record<string, number | string> = { shape: `${c.M}×${c.K}×${c.N}`, case: c.name };
  const cpu: Record<string, number[]> = {};
  const wall: Record<string, number[]> = {};
  for (const e of engines) {
    useEngine(e);
    const y = tf.matMul(a, b, c.transA, c.transB).dataSync();
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - ref[i]));
    if (e !== 'xnnpack') row[`${e} max|Δ|`] = +err.toExponential(1);
    run(e); // warm-up
    cpu[e] = [];
    wall[e] = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const e of engines) {
      const t0 = performance.now();
      const u0 = process.cpuUsage();
      run(e);
      const u = process.cpuUsage(u0);
      wall[e].push((performance.now() - t0) / 1e3 / reps);
      cpu[e].push((u.user + u.system) / 1e6 / reps);
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  for (const e of engines) {
    row[`${e} GFLOP/s cpu`] = +(flops / median(cpu[e]) / 1e9).toFixed(1);
    row[`${e} GFLOP/s wall`] = +(flops / median(wall[e]) / 1e9).toFixed(1);
  }
  row['relaxed/xnnpack cpu'] = +(
    (row['relaxed GFLOP/s cpu'] as number) / (row['xnnpack GFLOP/s cpu'] as number)
  ).toFixed(2);
  tf.dispose([a, b, aPlain, bPlain]);
  return row;
}

async function main() {
  await initBackend('wasm');
  setFastKernels(true);
  if (!fastKernelsActive()) throw new Error('the fused kernels do not load');
  const rounds = Number(arg('rounds', '9'));
  setGemmVariant('relaxed');
  const relaxedLoads = gemmVariant() === 'relaxed';
  const out: Record<string, unknown> = { load: os.loadavg(), cpu: os.cpus()[0]?.model, relaxedLoads };
  for (const name of arg('configs', 'A,B,small').split(',')) {
    const { rows, C, V } = CONFIGS[name];
    const list: Case[] = [
      ...cases(rows, C, V),
      { name: 'transposed A (xᵀ·dy by flag)', M: C, K: rows, N: 4 * C, transA: true },
      { name: 'transposed B (dy·Wᵀ by flag)', M: rows, K: 4 * C, N: C, transB: true },
    ];
    const rows_ = list.map((c) => {
      const r = measure(c, rounds);
      process.stderr.write(`${name} ${JSON.stringify(r)}\n`);
      return r;
    });
    out[name] = rows_;
  }
  out.loadAfter = os.loadavg();
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
