import * as path from 'node:path';
import { readCorpus } from '../core/corpus';
import { readExamples } from '../core/data/examples';
import { formatProblems } from '../core/data/jsonl';
import { formatComparison } from '../core/train/compare';
import { finetune } from '../core/train/finetune';
import { inRange, int, positive } from './options';
import { pct, runStageCommand, StageCliOptions } from './stage';

export interface FinetuneCliOptions extends StageCliOptions {
  data: string;
  corpus?: string;
  mix?: string;
}

/** `gpt-lab finetune`: Stage 2 from the command line, into a new version beside the parent. */
export async function finetuneCommand(o: FinetuneCliOptions): Promise<void> {
  const steps = int(o.steps, '--steps');
  const minutes = positive(o.minutes, '--minutes');
  const mix = inRange(o.mix, '--mix', 0, 1);
  const data = path.resolve(o.data);
  await runStageCommand(
    o,
    'sft',
    (e) => `val ${e.valLoss.toFixed(3)}, token accuracy ${pct(e.tokenAccuracy)}`,
    async ({ out, parentDir, outDir, hooks }) => {
      const { records: examples, problems } = await readExamples(data);
      if (problems.length) out.info(formatProblems(data, problems));
      out.event('data', { file: data, examples: examples.length, problems });
      const corpusFiles = o.corpus
        ? (await readCorpus(path.resolve(o.corpus), { skipDirs: [outDir, parentDir] })).files
        : undefined;
      return finetune({
        parentDir,
        outDir,
        examples,
        dataFile: data,
        maxSteps: steps,
        maxMinutes: minutes ?? (steps === undefined && !o.resume ? 1 : undefined),
        learningRate: positive(o.lr, '--lr'),
        batchSize: int(o.batch, '--batch'),
        seed: int(o.seed, '--seed', 0),
        corpusFiles,
        mixShare: mix,
        resume: Boolean(o.resume),
        hooks,
      });
    },
    (r, out) => {
      out.info(
        `${r.heldOut ? 'held-out' : 'training-example'} loss ${r.initialValLoss.toFixed(3)} → ${r.valLoss.toFixed(3)}, token accuracy ${pct(r.metrics.tokenAccuracy)}`,
      );
      if (r.comparison) {
        out.info(
          `\n${r.heldOut ? 'held-out' : 'training'} examples, before → after:\n${formatComparison(r.comparison)}\n`,
        );
      }
    },
  );
}
