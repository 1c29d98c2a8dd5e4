/**
 * Stage 3 in the worker: K distinct completions to rank, the alignment trainers (reward model, DPO, PPO) as jobs
 * beside training.ts and finetuning.ts, and the parent-vs-aligned comparison of the alignment panel.
 */
import { promptsOf, readPreferences } from '../core/data/preferences';
import { GptLabError } from '../core/errors';
import { loadModel, LoadedModel } from '../core/model/persist';
import { generateBatchAsync } from '../core/sample/batch';
import { trainDpo, trainPpo, trainRewardModel } from '../core/train/align';
import { SCORE_HEAD } from '../core/train/pairs';
import { splitExamples } from '../core/train/stage';
import { winRateByReward } from '../core/train/winRate';
import type { AlignOutcome, AlignParams, CompareParams, RankParams, RankResult } from '../protocol/worker';
import type { Comparison } from '../protocol/rank';
import { Emit, WorkerJob } from './job';

/** Sampling rounds before giving up on K distinct completions. */
const MAX_ROUNDS = 4;

/**
 * K distinct completions of one prompt, sampled at a temperature in batches (one seed per row), empty and
 * repeated ones dropped, until K are found or the rounds run out (then fewer come back).
 */
export async function rankCompletions(m: LoadedModel, p: RankParams): Promise<RankResult> {
  const t0 = performance.now();
  const tok = m.tokenizer;
  const ctx = m.model.config.contextLength;
  const maxTokens = Math.max(1, Math.min(p.maxTokens, ctx - 1));
  const prompt = tok.encode(p.prompt).slice(-Math.max(1, ctx - maxTokens));
  const s = tok.specials;
  const seen = new Set<string>();
  const completions: string[] = [];
  let rounds = 0;
  while (completions.length < p.count && rounds < MAX_ROUNDS) {
    // One spare row first (sampled completions rarely repeat), then twice what is missing.
    const rows = rounds === 0 ? p.count + 1 : 2 * (p.count - completions.length);
    const out = await generateBatchAsync(
      m.model,
      tok,
      Array.from({ length: rows }, () => prompt),
      {
        maxTokens,
        temperature: p.temperature,
        topK: 0,
        topP: 1,
        seeds: Array.from({ length: rows }, (_, i) => p.seed + rounds * 1009 + i),
        suppressTokens: [s.fimPrefix, s.fimSuffix, s.fimMiddle],
        // Where the model would end the file at once (a short file it memorised), there is still something to rank.
        minTokens: 1,
      },
    );
    rounds++;
    for (const r of out) {
      const key = r.text.trimEnd();
      if (key.trim() === '' || seen.has(key)) continue;
      seen.add(key);
      completions.push(r.text);
      if (completions.length === p.count) break;
    }
  }
  return { completions, rounds, ms: performance.now() - t0, step: m.checkpoint.step };
}

const job = new WorkerJob('An alignment run is already in progress. Stop it first.');

/** One alignment run at a time, its new version's folder locked, progress streamed like training's. */
export async function runAlign(p: AlignParams, emit: Emit): Promise<AlignOutcome> {
  return job.run(p.outDir, `GPT Lab ${p.kind} training in a VS Code window`, emit, async (hooks) => {
    const base = {
      parentDir: p.parentDir,
      outDir: p.outDir,
      dataFile: p.dataFile,
      maxSteps: p.maxSteps,
      maxMinutes: p.maxMinutes,
      learningRate: p.learningRate,
      resume: p.resume,
      hooks,
    };
    switch (p.kind) {
      case 'reward':
        return trainRewardModel({ ...base, pairs: p.pairs ?? [] });
      case 'dpo':
        return trainDpo({ ...base, pairs: p.pairs ?? [], beta: p.beta });
      case 'ppo':
        return trainPpo({
          ...base,
          prompts: p.prompts ?? [],
          rewardDir: p.rewardDir,
          corpusFiles: p.corpusFiles,
          ppo: p.klCoef !== undefined ? { klCoef: p.klCoef } : {},
        });
    }
  });
}

export function stopAlign(): boolean {
  return job.stop();
}

export function aligning(): boolean {
  return job.running;
}

/**
 * The alignment panel's comparison: the parent's and the aligned version's greedy completions of held-out
 * prompts (the pairs the run held out, when it held some out), each scored by the reward model when one is given,
 * and the aligned version's win rate.
 */
export async function compareVersions(p: CompareParams): Promise<Omit<Comparison, 'version' | 'parent' | 'reward'>> {
  const before = await loadModel(p.parentDir, { trainable: false });
  let aligned: LoadedModel | undefined;
  let rm: LoadedModel | undefined;
  try {
    aligned = await loadModel(p.versionDir, { trainable: false });
    rm = p.rewardDir ? await loadModel(p.rewardDir, { trainable: false }) : undefined;
    if (rm && !rm.model.params.has(SCORE_HEAD))
      throw new GptLabError(`${p.rewardDir} is not a reward model (it has no score head).`, 'NOT_A_REWARD_MODEL');
    const tok = aligned.tokenizer;
    for (const other of [before, rm]) {
      if (other && other.tokenizer.vocabSize !== tok.vocabSize)
        throw new GptLabError('These versions have different tokenizers: compare versions of one base.', 'MISMATCH');
    }
    const { prompts, source } = await heldOutPrompts(p, aligned);
    if (prompts.length === 0)
      throw new GptLabError('There are no prompts to compare on: rank some completions first.', 'NO_PROMPTS');
    if (rm) {
      const w = await winRateByReward(before.model, aligned.model, rm.model, tok, prompts, {
        maxNewTokens: p.maxTokens,
      });
      return { rows: w.rows, winRate: w.winRate, meanBefore: w.meanBefore, meanAfter: w.meanAfter, source };
    }
    const s = tok.specials;
    const ctx = Math.min(before.model.config.contextLength, aligned.model.config.contextLength);
    const ids = prompts.map((q) => tok.encode(q).slice(-Math.max(1, ctx - p.maxTokens - 1)));
    const gen = (m: LoadedModel) =>
      generateBatchAsync(m.model, tok, ids, {
        maxTokens: p.maxTokens,
        temperature: 0,
        seed: 0,
        suppressTokens: [s.fimPrefix, s.fimSuffix, s.fimMiddle],
      });
    const [a, b] = [await gen(before), await gen(aligned)];
    return { rows: prompts.map((prompt, i) => ({ prompt, before: a[i].text, after: b[i].text })), source };
  } finally {
    before.model.dispose();
    aligned?.model.dispose();
    rm?.model.dispose();
  }
}

/** The prompts a run did not train on: those of its held-out pairs (the file's first N pairs, split as it was). */
async function heldOutPrompts(p: CompareParams, v: LoadedModel): Promise<{ prompts: string[]; source: string }> {
  const { records } = await readPreferences(p.dataFile);
  const lineage = (v.config.lineage ?? {}) as { data?: { pairs?: unknown; heldOut?: unknown } };
  const seed = ((v.config.training ?? {}) as { seed?: number }).seed ?? 1337;
  const used = typeof lineage.data?.pairs === 'number' ? records.slice(0, lineage.data.pairs) : undefined;
  const take = (ps: string[]) => [...new Set(ps)].slice(0, p.maxPrompts);
  if (used?.length) {
    const split = splitExamples(used, seed);
    if (split.heldOut) {
      const prompts = take(split.val.map((r) => r.prompt));
      return { prompts, source: `${plural(prompts.length, 'prompt')} of the pairs this run held out` };
    }
  }
  // PPO's prompts, or too few pairs to hold any out: the prompts the user ranked, newest first.
  const prompts = take(
    promptsOf([...records].reverse())
      .map((r) => r.prompt)
      .filter((q) => q.trim() !== ''),
  );
  return { prompts, source: `${plural(prompts.length, 'prompt')} you ranked (the run may have trained on them)` };
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
