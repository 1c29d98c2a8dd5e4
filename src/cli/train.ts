import * as path from 'node:path';
import { initBackend, BackendPreference } from '../core/backend';
import { completionEvalPositions, evaluateModelCompletions } from '../core/complete/modelEval';
import { formatCorpusSummary, readCorpus } from '../core/corpus';
import { GptLabError } from '../core/errors';
import { formatCount, parameterCount } from '../core/model/config';
import { defaultTrainConfig, TrainConfig } from '../core/train/config';
import { pretrain } from '../core/train/trainer';
import { formatDuration, formatRate, Output } from './output';

export interface TrainCliOptions {
  preset: string;
  minutes?: string;
  steps?: string;
  out?: string;
  resume?: boolean;
  seed?: string;
  backend: BackendPreference;
  json?: boolean;
  include?: string[];
  exclude?: string[];
  maxFileKb?: string;
  layers?: string;
  heads?: string;
  embd?: string;
  context?: string;
  vocab?: string;
  batch?: string;
  lr?: string;
  fim?: string;
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new GptLabError(`${flag} must be a number (got '${v}').`, 'BAD_OPTION');
  return n;
}

export function trainConfigFromOptions(o: TrainCliOptions): TrainConfig {
  const steps = num(o.steps, '--steps');
  const minutes = num(o.minutes, '--minutes') ?? (steps === undefined ? 2 : undefined);
  const cfg = defaultTrainConfig(o.preset, {
    maxSteps: steps,
    maxMinutes: minutes,
    ...(o.seed !== undefined && { seed: num(o.seed, '--seed') }),
    ...(o.batch !== undefined && { batchSize: num(o.batch, '--batch') }),
    ...(o.fim !== undefined && { fimRate: num(o.fim, '--fim') }),
  });
  const lr = num(o.lr, '--lr');
  if (lr !== undefined) {
    cfg.learningRate = lr;
    cfg.minLearningRate = lr / 10;
  }
  const m = cfg.model;
  m.nLayer = num(o.layers, '--layers') ?? m.nLayer;
  m.nHead = num(o.heads, '--heads') ?? m.nHead;
  m.nEmbd = num(o.embd, '--embd') ?? m.nEmbd;
  m.contextLength = num(o.context, '--context') ?? m.contextLength;
  m.vocabSize = num(o.vocab, '--vocab') ?? m.vocabSize;
  return defaultTrainConfig(o.preset, cfg);
}

export async function trainCommand(dir: string, o: TrainCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const root = path.resolve(dir);
  const outDir = path.resolve(o.out ?? path.join(root, '.gpt-lab', 'model'));
  const config = trainConfigFromOptions(o);
  const backend = await initBackend(o.backend);
  out.info(`backend: ${backend.name}${backend.skipped.length ? ` (skipped ${backend.skipped.join('; ')})` : ''}`);

  const corpus = await readCorpus(root, {
    include: o.include,
    exclude: o.exclude,
    maxFileBytes: o.maxFileKb !== undefined ? num(o.maxFileKb, '--max-file-kb')! * 1024 : undefined,
  });
  out.info(`corpus: ${formatCorpusSummary(corpus.summary)}`);
  out.event('corpus', { root, ...corpus.summary });
  const m = config.model;
  out.info(
    `model: ${config.preset ?? 'custom'} — ${formatCount(parameterCount(m))} parameters (${m.nLayer} layers × ${m.nEmbd}, ${m.nHead} heads, context ${m.contextLength}); budget ${config.maxSteps !== undefined ? config.maxSteps + ' steps' : ''}${config.maxSteps !== undefined && config.maxMinutes !== undefined ? ' or ' : ''}${config.maxMinutes !== undefined ? config.maxMinutes + ' min' : ''}`,
  );

  // Ctrl+C once: stop at the next step and save. Twice: quit now.
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    out.info('stopping after this step and saving a checkpoint… (Ctrl+C again to quit now)');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let lastVal = '';
  try {
    const result = await pretrain({
      files: corpus.files,
      config,
      outDir,
      resume: Boolean(o.resume),
      corpusSummary: { root, ...corpus.summary },
      hooks: {
        shouldStop: () => stopRequested,
        onLog: (msg) => out.info(msg),
        onEval: (e) => {
          lastVal = ` · val ${e.valLoss.toFixed(3)} (${(e.valBpb ?? NaN).toFixed(2)} bpb)`;
          out.event('eval', e);
        },
        onProgress: (p) => {
          out.event('progress', p);
          out.progress(
            p.fraction,
            `step ${p.step} · loss ${p.loss.toFixed(3)}${lastVal} · ${formatRate(p.tokensPerSec)} · ${formatDuration(p.etaMs)} left`,
          );
        },
      },
    });
    out.clear();
    out.info(
      `${result.stopped === 'cancelled' ? 'stopped' : 'done'} at step ${result.step} in ${formatDuration(result.elapsedMs)}: ` +
        `val loss ${result.initialValLoss.toFixed(3)} → ${result.valLoss.toFixed(3)} (${result.valBpb.toFixed(2)} bits/byte), ` +
        `${formatCount(result.tokensSeen)} tokens seen`,
    );
    out.info(`model saved in ${outDir}`);
    if (result.stopped === 'budget') {
      // The same honest check the extension shows in Model Info: completions on held-out files.
      const ev = await evaluateModelCompletions(outDir, corpus.files, completionEvalPositions(config.model));
      out.info(
        `completions on held-out files: ${(ev.exactMatch * 100).toFixed(1)}% of suggestions equal the rest of the line, ${(ev.charsSaved * 100).toFixed(1)}% of characters saved (${ev.positions} positions, ${ev.mode === 'fim' ? 'fill-in-the-middle' : 'prefix-only'} prompts)`,
      );
      out.event('completions', { ...ev, examples: ev.examples.slice(0, 3) });
    }
    out.event('done', { ...result, losses: undefined, outDir, backend: backend.name });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
