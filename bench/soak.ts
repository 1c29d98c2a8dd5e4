/**
 * Soak: a few thousand training steps, then a few thousand completions, recording resident memory and tfjs
 * tensor counts along the way — both should stay flat (a leak shows as a slope). JSON on stdout and in
 * .artifacts/bench-soak.json. `npm run bench:soak -- [--steps N] [--completions N] [--micro]`.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/core/backend';
import { completeAt } from '../src/core/complete/completeAt';
import { loadModel } from '../src/core/model/persist';
import { Rng } from '../src/core/rng';
import { defaultTrainConfig } from '../src/core/train/config';
import { pretrain } from '../src/core/train/trainer';

interface Sample {
  at: number;
  rssMiB: number;
  heapMiB: number;
  tensors: number;
}

const sample = (at: number): Sample => ({
  at,
  rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  tensors: tf.memory().numTensors,
});

/** Least-squares slope per 1000 units of x, and the spread: what "flat" means in figures. */
function trend(points: Sample[], key: 'rssMiB' | 'tensors'): { first: number; last: number; slopePer1000: number } {
  const xs = points.map((p) => p.at);
  const ys = points.map((p) => p[key]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i] - my);
    den += (x - mx) ** 2;
  });
  return { first: ys[0], last: ys[ys.length - 1], slopePer1000: den ? Math.round((num / den) * 1000 * 100) / 100 : 0 };
}

async function main(): Promise<void> {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : d;
  };
  const steps = arg('--steps', 2000);
  const completions = arg('--completions', 2000);
  await initBackend('wasm');
  const src = readFileSync(
    path.join(path.dirname(require.resolve('typescript/package.json')), 'lib', 'typescript.js'),
    'utf8',
  );
  const files = Array.from({ length: 20 }, (_, i) => ({
    path: `f${i}.js`,
    bytes: new TextEncoder().encode(src.slice(i * 20_000, (i + 1) * 20_000)),
  }));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gpt-lab-soak-'));
  const training: Sample[] = []; // from the first step on: before it, the model does not exist yet
  // --micro: the tiny preset at half its width and context and a quarter of its batch, so thousands of steps fit in minutes on
  // a loaded machine (a leak shows per step, whatever the size).
  const micro = process.argv.includes('--micro');
  const tiny = defaultTrainConfig('tiny');
  const config = defaultTrainConfig('tiny', {
    maxSteps: steps,
    maxMinutes: undefined,
    checkpointInterval: 500,
    ...(micro && { model: { ...tiny.model, nEmbd: 32, contextLength: 32 }, batchSize: 4 }),
  });
  const t0 = performance.now();
  await pretrain({
    files,
    config,
    outDir: dir,
    hooks: { onProgress: (p) => (p.step === 1 || p.step % 100 === 0) && training.push(sample(p.step)) },
  });
  const trainMs = performance.now() - t0;

  const { model, tokenizer } = await loadModel(dir);
  const serving: Sample[] = [sample(0)];
  const rng = new Rng(7);
  const text = src.slice(1_000_000, 1_200_000);
  const t1 = performance.now();
  for (let i = 1; i <= completions; i++) {
    const at = rng.int(text.length);
    await completeAt(model, tokenizer, text.slice(Math.max(0, at - 400), at), text.slice(at, at + 200), {
      fim: true,
      maxTokens: 16,
      multiline: false,
    });
    if (i % 100 === 0) serving.push(sample(i));
  }
  const serveMs = performance.now() - t1;
  model.dispose();
  const result = {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    loadAverage: os.loadavg().map((l) => +l.toFixed(1)),
    model: { ...config.model, batchSize: config.batchSize },
    training: {
      steps,
      ms: Math.round(trainMs),
      rss: trend(training, 'rssMiB'),
      tensors: trend(training, 'tensors'),
      samples: training,
    },
    serving: {
      completions,
      msPerCompletion: Math.round((serveMs / completions) * 10) / 10,
      rss: trend(serving, 'rssMiB'),
      tensors: trend(serving, 'tensors'),
      samples: serving,
    },
  };
  mkdirSync('.artifacts', { recursive: true });
  writeFileSync('.artifacts/bench-soak.json', JSON.stringify(result, null, 1));
  process.stdout.write(
    JSON.stringify(
      {
        ...result,
        training: { ...result.training, samples: undefined },
        serving: { ...result.serving, samples: undefined },
      },
      null,
      1,
    ) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
