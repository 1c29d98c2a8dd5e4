import * as path from 'node:path';
import type { Preference } from '../data/preferences';
import { GptLabError } from '../errors';
import { loadModel } from '../model/persist';
import { Rng } from '../rng';
import { DpoTask } from './dpoTask';
import { LoopResult } from './loop';
import { SCORE_HEAD } from './pairs';
import { PPO_DEFAULTS, PpoOptions, PpoTask, rewardModelScorer, Scorer, VALUE_HEAD } from './ppoTask';
import { ensureScoreHead, RewardTask } from './rewardTask';
import { runStage, splitExamples, StageRequest, StageResult, StageStart } from './stage';

export type { StageRequest, StageResult };

export interface PairsRequest extends StageRequest {
  pairs: Preference[];
}

function splitPairs(req: PairsRequest, s: StageStart) {
  if (req.pairs.length === 0) {
    throw new GptLabError(
      'There are no preference pairs. Rank some completions (GPT Lab: Rank Completions) or import a JSONL file.',
      'NO_PAIRS',
    );
  }
  const split = splitExamples(req.pairs, s.cfg.seed);
  s.lineage.data = {
    ...(req.dataFile ? { file: req.dataFile } : {}),
    pairs: req.pairs.length,
    heldOut: split.heldOut ? split.val.length : 0,
  };
  req.hooks?.onLog?.(
    split.heldOut
      ? `pairs: ${split.train.length} to train on, ${split.val.length} held out`
      : `pairs: ${req.pairs.length} — too few to hold any out, so the metrics are on the training pairs`,
  );
  return split;
}

function result(loop: LoopResult, split: { train: unknown[]; val: unknown[]; heldOut: boolean }): StageResult {
  return {
    ...loop,
    trainCount: split.train.length,
    heldOutCount: split.heldOut ? split.val.length : 0,
    heldOut: split.heldOut,
  };
}

/** Stage 3a: a reward model from ranked pairs (the parent's backbone plus a scalar head). */
export async function trainRewardModel(req: PairsRequest): Promise<StageResult> {
  const { loop, counts } = await runStage(req, { lrScale: 0.3 }, (s, extra) => {
    ensureScoreHead(s.model, new Rng(s.cfg.seed ^ 0x5c0e));
    const split = splitPairs(req, s);
    return {
      task: new RewardTask(s.model, s.parent.tokenizer, split.train, split.val, s.cfg.batchSize, extra),
      counts: split,
    };
  });
  return result(loop, counts);
}

export interface DpoRequest extends PairsRequest {
  /** How far the policy may move from the reference (TRL's default 0.1). */
  beta?: number;
}

/** Stage 3b: DPO straight from the pairs, the parent frozen as the reference. */
export async function trainDpo(req: DpoRequest): Promise<StageResult> {
  const { loop, counts } = await runStage(req, { lrScale: 0.1 }, (s, extra) => {
    const split = splitPairs(req, s);
    const beta = req.beta ?? 0.1;
    s.lineage.data = { ...s.lineage.data, beta };
    const task = new DpoTask(
      s.model,
      s.parent.model,
      s.parent.tokenizer,
      split.train,
      split.val,
      { batchSize: s.cfg.batchSize, beta },
      extra,
    );
    return { task, counts: split };
  });
  return result(loop, counts);
}

export interface PpoRequest extends StageRequest {
  /** Prompts to roll out from (those of the preferences or examples). */
  prompts: { prompt: string }[];
  /** The reward model's version folder… */
  rewardDir?: string;
  /** …or a scorer of its own (tests, rules). */
  scorer?: Scorer;
  /** Also roll out from the repository's own contexts: line starts of these files. */
  corpusFiles?: { path: string; bytes: Uint8Array }[];
  ppo?: Partial<Omit<PpoOptions, 'batchSize'>>;
}

/** Stage 3c: PPO against a reward model (or scorer), the parent frozen as the reference for the KL penalty. */
export async function trainPpo(req: PpoRequest): Promise<StageResult> {
  if (!req.scorer && !req.rewardDir)
    throw new GptLabError('PPO needs a reward model: train one first (gpt-lab reward).', 'NO_REWARD_MODEL');
  const rm = req.rewardDir ? await loadModel(req.rewardDir, { trainable: false }) : undefined;
  try {
    if (rm && !rm.model.params.has(SCORE_HEAD)) {
      throw new GptLabError(
        `${req.rewardDir} is not a reward model (it has no score head). Train one with gpt-lab reward.`,
        'NOT_A_REWARD_MODEL',
      );
    }
    const { loop, counts } = await runStage(req, { lrScale: 0.1 }, (s, extra) => {
      const tok = s.parent.tokenizer;
      if (rm && rm.tokenizer.vocabSize !== tok.vocabSize) {
        throw new GptLabError(
          'The reward model has another tokenizer than the policy: train it from the same base.',
          'MISMATCH',
        );
      }
      const texts = [...req.prompts.map((p) => p.prompt), ...corpusPrompts(req.corpusFiles ?? [], s.cfg.seed)];
      if (texts.length === 0)
        throw new GptLabError('PPO needs prompts: add examples or rank some completions first.', 'NO_PROMPTS');
      const split = splitExamples(texts, s.cfg.seed);
      const opts: PpoOptions = { ...PPO_DEFAULTS, ...req.ppo, batchSize: s.cfg.batchSize };
      s.lineage.data = {
        ...(req.dataFile ? { file: req.dataFile } : {}),
        prompts: texts.length,
        heldOut: split.heldOut ? split.val.length : 0,
        ...(req.rewardDir ? { reward: path.basename(req.rewardDir) } : {}),
        klCoef: opts.klCoef,
      };
      if (!s.model.params.has(VALUE_HEAD)) s.model.addHead({ name: VALUE_HEAD, shape: [s.model.config.nEmbd, 1] });
      const scorer = req.scorer ?? rewardModelScorer(rm!.model, tok);
      const enc = (t: string[]) => t.map((p) => tok.encode(p));
      const task = new PpoTask(
        s.model,
        s.parent.model,
        tok,
        scorer,
        enc(split.train),
        enc(split.val).slice(0, 16),
        opts,
        extra,
      );
      return { task, counts: split };
    });
    return result(loop, counts);
  } finally {
    rm?.model.dispose();
  }
}

/** Up to 32 contexts from the repository: a line start and the two lines before it, from files spread evenly. */
function corpusPrompts(files: { bytes: Uint8Array }[], seed: number): string[] {
  const rng = new Rng(seed ^ 0x99);
  const out: string[] = [];
  const dec = new TextDecoder();
  for (let k = 0; k < Math.min(32, files.length * 4); k++) {
    const lines = dec.decode(files[rng.int(files.length)].bytes).split('\n');
    if (lines.length < 4) continue;
    const at = 2 + rng.int(lines.length - 3);
    out.push(lines.slice(at - 2, at).join('\n') + '\n');
  }
  return out;
}
