/**
 * Data parallelism on this machine: training tokens/s with 1 replica (the loop's thread alone) against N replicas
 * (worker threads, gradients all-reduced through shared memory), alternated, medians of the rounds. On a shared,
 * loaded machine the threads do not get a core each, so it also measures what holds on idle cores: how much of a
 * step's time a replica saves by taking 1/N of the rows (one thread, smaller batch), and what the all-reduce's
 * copies and sums cost without any waiting — `projectedSpeedup` = full-batch step / (1/N-batch step + all-reduce).
 * `npm run build && node out/bench/replicas.js [--rounds 3] [--steps 8] [--replicas 2] [--configs B,tiny,small]`
 * Prints JSON and writes .artifacts/bench/replicas.json.
 * `--profile`: instead, where each replica's step goes (parallel/profile.ts): per-phase medians by rank, 1 replica
 * (the same code path, no workers) against N, alternated, `--steps` (default 60) after 5 warm-up steps.
 * `--builds DIR1,DIR2`: instead, bench --peer's own training measurement (its child process, 8 steps after 2
 * warm-up, a fresh process each) on 1 and 2 replicas with each build's out/ (frozen copies of the repository, say
 * before and after a change), alternated round by round; `--configs A,B,small`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/core/backend';
import { GPTConfig, PRESETS } from '../src/core/model/config';
import { GPT } from '../src/core/model/gpt';
import { defaultTrainConfig } from '../src/core/train/config';
import type { Batch } from '../src/core/train/data';
import { buildOptimizer, optimizerStep } from '../src/core/train/loop';
import { GradientLayout } from '../src/core/train/parallel/gradients';
import { ReplicaPool } from '../src/core/train/parallel/pool';
import { SharedStep } from '../src/core/train/parallel/shared';
import type { TrainTask } from '../src/core/train/task';

const CONFIGS: Record<string, { model: GPTConfig; batch: number }> = {
  A: {
    model: { vocabSize: 512, contextLength: 64, nEmbd: 64, nLayer: 2, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
  B: {
    model: { vocabSize: 2048, contextLength: 128, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
  tiny: { model: PRESETS.tiny.model, batch: PRESETS.tiny.batchSize },
  small: { model: PRESETS.small.model, batch: PRESETS.small.batchSize },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median ms per step (and all-reduce ms) of `steps` steps after 2 warm-up steps. */
async function run(model: GPTConfig, batch: number, replicas: number, steps: number) {
  const cfg = defaultTrainConfig('tiny', { model, batchSize: batch, maxSteps: steps });
  const m = GPT.create(model, 0);
  const opt = buildOptimizer(m.params, cfg);
  const task = {
    loss: (b: Batch) => ({
      loss: m.loss(tf.tensor2d(b.x, [b.B, b.T], 'int32'), tf.tensor2d(b.y, [b.B, b.T], 'int32')),
    }),
  } as unknown as TrainTask<Batch>;
  const T = model.contextLength;
  const x = Int32Array.from({ length: batch * T }, (_, i) => (i * 7919 + 13) % model.vocabSize);
  const y = Int32Array.from({ length: batch * T }, (_, i) => (i * 104729 + 7) % model.vocabSize);
  const b: Batch = { x, y, B: batch, T };
  const pool = replicas > 1 ? new ReplicaPool(replicas, cfg) : undefined;
  const stepMs: number[] = [];
  const reduceMs: number[] = [];
  try {
    await pool?.start(m, m.params, opt);
    for (let i = 0; i < steps + 2; i++) {
      const t0 = performance.now();
      if (pool) {
        const r = await pool.step(task, b, 1e-3, 1);
        if (i >= 2) reduceMs.push(r.allReduceMs);
      } else optimizerStep(task, opt, b, 1e-3, 1);
      if (i >= 2) stepMs.push(performance.now() - t0);
    }
  } finally {
    await pool?.dispose();
    opt.dispose();
    m.dispose();
  }
  return { stepMs: median(stepMs), allReduceMs: reduceMs.length ? median(reduceMs) : undefined };
}

/** Median ms of the all-reduce's own work for `n` replicas, on one thread: gradients out, the weighted sum, back in. */
function allReduceWork(model: GPTConfig, n: number): number {
  const m = GPT.create(model, 0);
  const layout = new GradientLayout(m.params);
  const shared = SharedStep.allocate({ replicas: n, gradSize: layout.size, maxTokens: 1 });
  const grads: tf.NamedTensorMap = {};
  for (const p of m.params.values()) grads[p.name] = tf.onesLike(p);
  const out = new Float32Array(layout.size);
  const weights = Array.from({ length: n }, () => 1 / n);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const present = layout.write(grads, shared.slots[0][0]);
    shared.reduce(0, weights, out);
    tf.dispose(Object.values(layout.read(out, present)));
    times.push(performance.now() - t0);
  }
  tf.dispose(Object.values(grads));
  m.dispose();
  return median(times);
}

/** A plain JS loop, the same work on each thread. */
const SPIN = `let x = 0; const a = new Float64Array(1 << 16).fill(1.0001);
for (let r = 0; r < 1500; r++) for (let i = 0; i < a.length; i++) x += a[i] * a[(i * 7) & 65535];`;

/**
 * What the machine gives N threads right now: N units of a plain JS loop on N threads against 1 unit on one.
 * N on idle cores; on a shared machine whatever the others leave — the ceiling of any replica speed-up.
 */
async function threadScaling(n: number): Promise<number> {
  const spin = new Function(SPIN) as () => void;
  let t0 = performance.now();
  spin();
  const one = performance.now() - t0;
  // Threads started and waiting first: their start-up is not the machine's scaling.
  const code = `const { parentPort } = require('node:worker_threads'); parentPort.postMessage('ready');
parentPort.once('message', () => { ${SPIN}; parentPort.postMessage('done'); });`;
  const workers = Array.from({ length: n - 1 }, () => new Worker(code, { eval: true }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const done = workers.map((w) => new Promise((r) => w.once('message', r)));
  t0 = performance.now();
  workers.forEach((w) => w.postMessage('go'));
  spin();
  await Promise.all(done);
  const elapsed = performance.now() - t0;
  await Promise.all(workers.map((w) => w.terminate()));
  return (n * one) / elapsed;
}

/** Per-rank phase medians of `steps` steps on `replicas` replicas, after `warmup` steps. */
async function profile(model: GPTConfig, batch: number, replicas: number, steps: number, warmup: number) {
  const cfg = defaultTrainConfig('tiny', { model, batchSize: batch, optimizer: 'adamw' });
  const m = GPT.create(model, 0);
  const opt = buildOptimizer(m.params, cfg);
  const T = model.contextLength;
  const task = {
    loss: (b: Batch) => ({ loss: m.loss(tf.tensor2d(b.x, [b.B, T], 'int32'), tf.tensor2d(b.y, [b.B, T], 'int32')) }),
  } as unknown as TrainTask<Batch>;
  const pool = new ReplicaPool(replicas, cfg, { profileSteps: warmup + steps + 1 });
  const stepMs: number[] = [];
  try {
    await pool.start(m, m.params, opt);
    for (let i = 0; i < warmup + steps + 1; i++) {
      // A fresh batch each step, as the loop and bench --peer draw them (its cost shows as replica 0's `between`).
      const x = Int32Array.from({ length: batch * T }, (_, j) => (j * 7919 + i * 13) % model.vocabSize);
      const y = Int32Array.from({ length: batch * T }, (_, j) => (j * 104729 + i * 7) % model.vocabSize);
      const t0 = performance.now();
      await pool.step(task, { x, y, B: batch, T }, 1e-3, 1);
      if (i >= warmup) stepMs.push(performance.now() - t0);
    }
    return { stepMs: +median(stepMs).toFixed(2), ...pool.profile(warmup)! };
  } finally {
    await pool.dispose();
    opt.dispose();
    m.dispose();
  }
}

/** What every JSON result of this bench starts with: when, on what, how many rounds and steps. */
function header(rounds: number, steps: number): Record<string, unknown> {
  const machine = `${os.cpus()[0]?.model ?? '?'}, ${os.availableParallelism()} cores, load ${os.loadavg()[0].toFixed(1)}`;
  return { date: new Date().toISOString(), machine, rounds, steps };
}

async function profileMain(): Promise<void> {
  const rounds = Number(arg('rounds', '2'));
  const steps = Number(arg('steps', '60'));
  const n = Number(arg('replicas', '2'));
  const result: Record<string, unknown> = header(rounds, steps);
  for (const name of arg('configs', 'A,B').split(',')) {
    const c = CONFIGS[name];
    // share: one replica on 1/N of the rows, what each of N replicas would take on a core of its own.
    const settings = [
      { key: '1', k: 1, rows: c.batch },
      { key: String(n), k: n, rows: c.batch },
      { key: 'share', k: 1, rows: Math.ceil(c.batch / n) },
    ];
    const runs: Record<string, unknown[]> = Object.fromEntries(settings.map((s) => [s.key, []]));
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 ? [...settings].reverse() : settings) {
        const p = await profile(c.model, s.rows, s.k, steps, 5);
        runs[s.key].push(p);
        process.stderr.write(`${name} round ${r + 1}, ${s.key}: ${JSON.stringify(p)}\n`);
      }
    }
    result[name] = runs;
  }
  const json = JSON.stringify(result, null, 2);
  const dir = path.join('.artifacts', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'replicas-profile.json'), json + '\n');
  process.stdout.write(json + '\n');
}

/** bench --peer's training child of each build in `--builds`, on 1 and 2 replicas, alternated; medians. */
function buildsMain(): void {
  const builds = arg('builds', '').split(',');
  const rounds = Number(arg('rounds', '3'));
  const data = path.join(os.tmpdir(), `gpt-lab-replicas-${process.pid}.js`);
  writeFileSync(data, readFileSync(require.resolve('typescript/lib/typescript.js')).subarray(0, 1 << 20));
  const configs: Record<string, { model: GPTConfig; batch: number }> = {
    ...CONFIGS,
    small: { model: PRESETS.small.model, batch: PRESETS.small.batchSize },
  };
  const runs: Record<string, unknown>[] = [];
  const names = arg('configs', 'A,B,small').split(',');
  process.on('exit', () => rmSync(data, { force: true }));
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      const c = configs[name];
      const order = builds.flatMap((build) => [1, 2].map((replicas) => ({ build, replicas })));
      for (const { build, replicas } of r % 2 ? order.reverse() : order) {
        const spec = { kind: 'train', model: c.model, batch: c.batch, steps: 8, warmup: 2, data, replicas };
        const t0 = performance.now();
        const run: Record<string, unknown> = { round: r + 1, config: name, build, replicas };
        try {
          const child = path.join(build, 'out', 'src', 'cli', 'benchChild.js');
          const out = execFileSync('node', [child, JSON.stringify(spec)], { encoding: 'utf8', stdio: 'pipe' });
          const res = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
          Object.assign(run, {
            tokPerSec: res.tokPerSec,
            stepMs: res.stepMsMedian,
            allReduceMs: res.allReduceMsMedian,
          });
        } catch (err) {
          run.failed = String((err as { stderr?: string }).stderr ?? err)
            .split('\n')
            .find((l) => /error/i.test(l));
        }
        Object.assign(run, { wallS: +((performance.now() - t0) / 1000).toFixed(2), load1: os.loadavg()[0] });
        runs.push(run);
        process.stderr.write(JSON.stringify(run) + '\n');
      }
    }
  }
  const medians: Record<string, number> = {};
  for (const name of names) {
    for (const build of builds) {
      for (const replicas of [1, 2]) {
        const ok = runs.filter((x) => x.config === name && x.build === build && x.replicas === replicas && !x.failed);
        medians[`${name} ${build} ${replicas}`] = Math.round(median(ok.map((x) => x.tokPerSec as number)));
      }
    }
  }
  const result = {
    date: new Date().toISOString(),
    machine: os.cpus()[0]?.model,
    rounds,
    tokPerSecMedians: medians,
    runs,
  };
  const json = JSON.stringify(result, null, 2);
  mkdirSync(path.join('.artifacts', 'bench'), { recursive: true });
  writeFileSync(path.join('.artifacts', 'bench', 'replicas-builds.json'), json + '\n');
  process.stdout.write(json + '\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--builds')) return buildsMain();
  await initBackend('wasm');
  if (process.argv.includes('--profile')) return profileMain();
  const rounds = Number(arg('rounds', '3'));
  const steps = Number(arg('steps', '8'));
  const n = Number(arg('replicas', '2'));
  const result: Record<string, unknown> = header(rounds, steps);
  for (const name of arg('configs', 'B,tiny,small').split(',')) {
    const c = CONFIGS[name];
    const tokens = c.batch * c.model.contextLength;
    const runs: Record<string, number[]> = {
      one: [],
      many: [],
      allReduceMs: [],
      shareMs: [],
      fullMs: [],
      threadScaling: [],
    };
    for (let r = 0; r < rounds; r++) {
      // Alternate, so the machine's load (other users) falls on both alike.
      runs.threadScaling.push(await threadScaling(n));
      const one = await run(c.model, c.batch, 1, steps);
      const many = await run(c.model, c.batch, n, steps);
      runs.one.push((tokens * 1000) / one.stepMs);
      runs.many.push((tokens * 1000) / many.stepMs);
      runs.allReduceMs.push(many.allReduceMs ?? NaN);
      // One thread, one replica's share of the rows: what a replica's step costs on a core of its own.
      const share = await run(c.model, Math.ceil(c.batch / n), 1, steps);
      runs.shareMs.push(share.stepMs);
      runs.fullMs.push(one.stepMs);
      process.stderr.write(
        `${name} round ${r + 1}: 1 → ${runs.one.at(-1)!.toFixed(0)} tok/s, ${n} → ${runs.many.at(-1)!.toFixed(0)} tok/s\n`,
      );
    }
    const work = allReduceWork(c.model, n);
    result[name] = {
      batch: c.batch,
      shareOfStepForShareOfRows: +(median(runs.shareMs) / median(runs.fullMs)).toFixed(2),
      allReduceWorkMs: +work.toFixed(1),
      projectedSpeedup: +(median(runs.fullMs) / (median(runs.shareMs) + work)).toFixed(2),
      context: c.model.contextLength,
      tokensPerSec: { 1: Math.round(median(runs.one)), [n]: Math.round(median(runs.many)) },
      speedup: +(median(runs.many) / median(runs.one)).toFixed(2),
      /** What N threads of plain JS got over one in the same rounds: the ceiling of `speedup` right now. */
      threadScaling: +median(runs.threadScaling).toFixed(2),
      allReduceMsPerStep: +median(runs.allReduceMs).toFixed(1),
      rounds: runs,
    };
  }
  const json = JSON.stringify(result, null, 2);
  const dir = path.join('.artifacts', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'replicas.json'), json + '\n');
  process.stdout.write(json + '\n');
}

void main();
