/**
 * What Muon costs per training step: the tiny preset's modern model, one process, steps alternating between AdamW,
 * Muon + AdamW and Muon with the reference (plain) Newton–Schulz iteration, same batch, medians of the rounds; plus
 * the Newton–Schulz part alone (every Muon matrix of the model), both forms.
 * `npm run build && node out/bench/muonStep.js [--rounds 7] [--steps 5] [--preset tiny]`
 * Prints JSON and writes .artifacts/bench/muon-step.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/core/backend';
import { GPT } from '../src/core/model/gpt';
import { defaultTrainConfig, TrainConfig } from '../src/core/train/config';
import { buildOptimizer } from '../src/core/train/loop';
import { isMuonParam, MuonAdamW, newtonSchulz, newtonSchulzReference } from '../src/core/train/muon';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds', '7'));
  const steps = Number(arg('steps', '5'));
  const preset = arg('preset', 'tiny');
  const backend = await initBackend('auto');
  const base = defaultTrainConfig(preset);
  const variants = [
    { name: 'adamw', optimizer: 'adamw' },
    { name: 'muon', optimizer: 'muon' },
    { name: 'muonReference', optimizer: 'muon', reference: true },
  ] as const;
  const runs = variants.map((v) => {
    const cfg: TrainConfig = { ...base, optimizer: v.optimizer };
    const model = GPT.create(cfg.model, 1);
    const opt =
      'reference' in v
        ? new MuonAdamW(
            model.params,
            { beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay },
            { lr: 0.02, momentum: 0.95, adamPeakLr: cfg.learningRate, reference: true },
          )
        : buildOptimizer(model.params, cfg);
    return { name: v.name, model, opt, ms: [] as number[] };
  });
  const { batchSize: B } = base;
  const T = base.model.contextLength;
  const ids = tf.randomUniform([B, T], 0, base.model.vocabSize, 'int32') as tf.Tensor2D;
  const targets = tf.randomUniform([B, T], 0, base.model.vocabSize, 'int32') as tf.Tensor2D;
  const step = (r: (typeof runs)[number]) => {
    const { value, grads } = tf.variableGrads(() => r.model.loss(ids, targets));
    const norm = r.opt.step(grads, 1e-3, 1);
    value.dataSync();
    norm.dataSync();
    tf.dispose([value, norm, ...Object.values(grads)]);
  };
  for (const r of runs) for (let i = 0; i < 2; i++) step(r); // warm-up
  const nsMs: number[] = [];
  const nsRefMs: number[] = [];
  const mats = [...runs[1].model.params].filter(([n, p]) => isMuonParam(n, p)).map(([, p]) => p as tf.Tensor2D);
  for (let round = 0; round < rounds; round++) {
    for (const r of runs) {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) step(r);
      r.ms.push((performance.now() - t0) / steps);
    }
    for (const [f, ms] of [
      [newtonSchulz, nsMs],
      [newtonSchulzReference, nsRefMs],
    ] as const) {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) tf.dispose(mats.map((m) => f(m)));
      ms.push((performance.now() - t0) / steps);
    }
  }
  const [adamw, muon, muonReference] = runs.map((r) => median(r.ms));
  const result = {
    preset,
    backend: backend.name,
    rounds,
    stepsPerRound: steps,
    adamwStepMs: adamw,
    muonStepMs: muon,
    muonReferenceStepMs: muonReference,
    muonOverAdamw: muon / adamw,
    muonReferenceOverAdamw: muonReference / adamw,
    newtonSchulzMs: median(nsMs),
    newtonSchulzReferenceMs: median(nsRefMs),
    muonMatrices: mats.length,
    load: os.loadavg(),
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  const dir = path.join('.artifacts', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'muon-step.json'), JSON.stringify(result, null, 2));
}

void main();
