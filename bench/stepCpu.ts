// `node out/bench/stepCpu.js [--configs A,B,small] [--steps 20] [--warmup 3]`: one replica's training step (the
// bench's configs, GPT-2 architecture, AdamW) by the process's CPU time (user + system, process.cpuUsage), which a
// loaded machine does not inflate as it does wall time. Prints JSON: per config the median, quartiles and minimum
// of the per-step CPU milliseconds, the median wall time, and the last loss (a check that two builds compared
// compute the same thing). To compare builds, run frozen copies of out/ alternately and compare their medians.
import * as os from 'node:os';
import { initBackend } from '../src/core/backend';
import { GPTConfig, PRESETS, withArchitecture } from '../src/core/model/config';
import { GPT } from '../src/core/model/gpt';
import { AdamW } from '../src/core/train/adamw';
import { trainStep } from '../src/core/train/trainer';

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

/** A fixed pseudo-random batch (the same in every build). */
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

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round2 = (x: number) => Math.round(x * 100) / 100;

function measure(model: GPTConfig, B: number, steps: number, warmup: number) {
  const m = GPT.create(model, 0);
  const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  let loss = NaN;
  for (let i = 0; i < warmup; i++) loss = trainStep(m, opt, batch(model, B, i), 1e-3, 1).loss;
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < steps; i++) {
    const b = batch(model, B, warmup + i);
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    loss = trainStep(m, opt, b, 1e-3, 1).loss;
    const u = process.cpuUsage(u0);
    wall.push(performance.now() - t0);
    cpu.push((u.user + u.system) / 1000);
  }
  opt.dispose();
  m.dispose();
  cpu.sort((a, b) => a - b);
  wall.sort((a, b) => a - b);
  return {
    cpuMs: {
      median: round2(quantile(cpu, 0.5)),
      q1: round2(quantile(cpu, 0.25)),
      q3: round2(quantile(cpu, 0.75)),
      min: round2(cpu[0]),
    },
    wallMsMedian: round2(quantile(wall, 0.5)),
    tokPerCpuSecond: Math.round((B * model.contextLength * 1000) / quantile(cpu, 0.5)),
    lastLoss: loss,
  };
}

async function main() {
  await initBackend('wasm');
  const steps = Number(arg('steps', '20'));
  const warmup = Number(arg('warmup', '3'));
  const out: Record<string, unknown> = { load: os.loadavg().map((x) => round2(x)), steps, warmup };
  for (const name of arg('configs', 'A,B,small').split(',')) {
    const c = CONFIGS[name];
    if (!c) throw new Error(`unknown config ${name} (A, B, small)`);
    out[name] = measure(withArchitecture({ model: c.model }, 'gpt2').model, c.batch, steps, warmup);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
