import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../checkpoint';
import type { SftExample } from '../data/examples';
import { GptLabError } from '../errors';
import { compareOnExamples, Comparison } from './compare';
import { corpusDataset, CorpusFile } from './pretrainTask';
import { SftTask } from './sftTask';
import { runStage, splitExamples, StageRequest, StageResult } from './stage';

export { splitExamples, stageConfig } from './stage';

export const SFT_COMPARE_FILE = 'sft-compare.json';

export interface FinetuneRequest extends StageRequest {
  examples: SftExample[];
  /** Pre-training files to mix in, so the model keeps the repository. */
  corpusFiles?: CorpusFile[];
  /** Share of rows from the corpus (default 0.2 when files are given). */
  mixShare?: number;
}

export interface FinetuneResult extends StageResult {
  /** The before/after table (not made for a stopped run). */
  comparison?: Comparison;
}

/** Stage 2: a new version fine-tuned on prompt → completion examples, with a before/after table. */
export async function finetune(req: FinetuneRequest): Promise<FinetuneResult> {
  const log = (m: string) => req.hooks?.onLog?.(m);
  if (req.examples.length === 0) {
    throw new GptLabError(
      'There are no examples to fine-tune on. Add some (GPT Lab: Add Example) or import a JSONL file.',
      'NO_EXAMPLES',
    );
  }
  let split = { train: req.examples, val: req.examples, heldOut: false };
  let comparison: Comparison | undefined;
  const { loop } = await runStage(
    req,
    { lrScale: 0.3 },
    (s, extra) => {
      split = splitExamples(req.examples, s.cfg.seed);
      s.lineage.data = {
        ...(req.dataFile ? { file: req.dataFile } : {}),
        examples: req.examples.length,
        heldOut: split.heldOut ? split.val.length : 0,
      };
      log(
        split.heldOut
          ? `examples: ${split.train.length} to train on, ${split.val.length} held out`
          : `examples: ${req.examples.length} — too few to hold any out, so the metrics are on the training examples`,
      );
      const tok = s.parent.tokenizer;
      const mixShare = req.corpusFiles?.length ? (req.mixShare ?? 0.2) : 0;
      const corpus = mixShare > 0 ? corpusDataset(tok, req.corpusFiles!, s.cfg).data.train : undefined;
      if (corpus) log(`mixing ${(mixShare * 100).toFixed(0)}% pre-training rows from ${req.corpusFiles!.length} files`);
      const opts = { batchSize: s.cfg.batchSize, mixShare, corpus };
      return { task: new SftTask(s.model, tok, split.train, split.val, opts, extra), counts: undefined };
    },
    async (s, r) => {
      if (r.stopped !== 'budget') return; // Stop is prompt: no table for a stopped run
      log('comparing the parent and the new version on the held-out examples…');
      comparison = await compareOnExamples(s.parent.model, s.model, s.parent.tokenizer, split.val);
      await writeFileAtomic(path.join(req.outDir, SFT_COMPARE_FILE), JSON.stringify(comparison, null, 1));
    },
  );
  return {
    ...loop,
    trainCount: split.train.length,
    heldOutCount: split.heldOut ? split.val.length : 0,
    heldOut: split.heldOut,
    comparison,
  };
}

/** The before/after table saved beside a fine-tuned version, if any. */
export async function readComparison(dir: string): Promise<Comparison | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, SFT_COMPARE_FILE), 'utf8')) as Comparison;
  } catch {
    return undefined;
  }
}
