import * as path from 'node:path';
import { Command } from 'commander';
import { readCorpus } from '../core/corpus';
import { readExamples } from '../core/data/examples';
import { formatProblems, LineProblem } from '../core/data/jsonl';
import { Preference, promptsOf, readPreferences } from '../core/data/preferences';
import { GptLabError } from '../core/errors';
import { loadModel } from '../core/model/persist';
import { trainDpo, trainPpo, trainRewardModel } from '../core/train/align';
import { SCORE_HEAD } from '../core/train/pairs';
import { winRateByReward } from '../core/train/winRate';
import { initBackend, BackendPreference } from '../core/backend';
import { inRange, int, positive } from './options';
import { Output } from './output';
import { pct, runStageCommand, StageCliOptions } from './stage';

interface AlignCliOptions extends StageCliOptions {
  data: string;
  beta?: string;
  reward?: string;
  kl?: string;
  corpus?: string;
}

/** Pairs (or, for PPO, prompts of pairs or examples) from a JSONL file, with its bad lines said. */
async function readPairs(file: string, out: Output): Promise<Preference[]> {
  const { records, problems } = await readPreferences(file);
  report(file, problems, records.length, out);
  return records;
}

function report(file: string, problems: LineProblem[], n: number, out: Output): void {
  if (problems.length) out.info(formatProblems(file, problems));
  out.event('data', { file, records: n, problems });
}

function budget(o: AlignCliOptions) {
  const steps = int(o.steps, '--steps');
  const minutes = positive(o.minutes, '--minutes');
  return {
    maxSteps: steps,
    maxMinutes: minutes ?? (steps === undefined && !o.resume ? 1 : undefined),
    learningRate: positive(o.lr, '--lr'),
    batchSize: int(o.batch, '--batch'),
    seed: int(o.seed, '--seed', 0),
    resume: Boolean(o.resume),
  };
}

async function rewardCommand(o: AlignCliOptions): Promise<void> {
  const data = path.resolve(o.data);
  await runStageCommand(
    o,
    'reward',
    (e) => `held-out accuracy ${pct(e.accuracy)}, margin ${(e.margin ?? NaN).toFixed(3)}`,
    async ({ out, parentDir, outDir, hooks }) =>
      trainRewardModel({ parentDir, outDir, pairs: await readPairs(data, out), dataFile: data, ...budget(o), hooks }),
    (r, out) =>
      out.info(
        `${r.heldOut ? 'held-out' : 'training'} pairs: accuracy ${pct(r.metrics.accuracy)}, margin ${(r.metrics.margin ?? NaN).toFixed(3)}`,
      ),
  );
}

async function dpoCommand(o: AlignCliOptions): Promise<void> {
  const data = path.resolve(o.data);
  const beta = inRange(o.beta, '--beta', 0, 10, true);
  await runStageCommand(
    o,
    'dpo',
    (e) =>
      `accuracy ${pct(e.accuracy)}, rewards chosen ${(e.rewardChosen ?? NaN).toFixed(3)} / rejected ${(e.rewardRejected ?? NaN).toFixed(3)}`,
    async ({ out, parentDir, outDir, hooks }) =>
      trainDpo({ parentDir, outDir, pairs: await readPairs(data, out), dataFile: data, beta, ...budget(o), hooks }),
    (r, out) =>
      out.info(
        `${r.heldOut ? 'held-out' : 'training'} pairs: DPO loss ${r.initialValLoss.toFixed(3)} → ${r.valLoss.toFixed(3)}, accuracy ${pct(r.metrics.accuracy)}, margin ${(r.metrics.margin ?? NaN).toFixed(3)} (implicit rewards: chosen ${(r.metrics.rewardChosen ?? NaN).toFixed(3)}, rejected ${(r.metrics.rewardRejected ?? NaN).toFixed(3)})`,
      ),
  );
}

async function ppoCommand(o: AlignCliOptions): Promise<void> {
  if (!o.reward) throw new GptLabError('ppo needs --reward DIR: a reward model (gpt-lab reward).', 'BAD_OPTION');
  const data = path.resolve(o.data);
  const kl = inRange(o.kl, '--kl', 0, 10);
  await runStageCommand(
    o,
    'ppo',
    (e) => `held-out reward ${(e.reward ?? NaN).toFixed(3)}, KL ${(e.kl ?? NaN).toFixed(2)}`,
    async ({ out, parentDir, outDir, hooks }) => {
      // Prompts come from pairs or from examples: any JSONL of {"prompt": …}.
      const pairs = await readPreferences(data);
      const examples = pairs.records.length ? undefined : await readExamples(data);
      const records = pairs.records.length ? pairs.records : (examples?.records ?? []);
      report(data, pairs.records.length ? pairs.problems : (examples?.problems ?? []), records.length, out);
      const corpusFiles = o.corpus
        ? (await readCorpus(path.resolve(o.corpus), { skipDirs: [outDir, parentDir] })).files
        : undefined;
      return trainPpo({
        parentDir,
        outDir,
        prompts: promptsOf(records),
        rewardDir: path.resolve(o.reward!),
        corpusFiles,
        dataFile: data,
        ppo: kl !== undefined ? { klCoef: kl } : {},
        ...budget(o),
        hooks,
      });
    },
    (r, out) =>
      out.info(
        `held-out prompts: reward ${(-r.initialValLoss).toFixed(3)} → ${(r.metrics.reward ?? NaN).toFixed(3)}, KL to the parent ${(r.metrics.kl ?? NaN).toFixed(2)} nats per response`,
      ),
  );
}

interface CompareCliOptions {
  model: string;
  against: string;
  reward: string;
  data: string;
  maxTokens?: string;
  backend: BackendPreference;
  json?: boolean;
}

/** `gpt-lab compare`: two versions' completions of the same prompts, scored by a reward model. */
async function compareCommand(o: CompareCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  await initBackend(o.backend, { readsAsync: true }); // generation and scores read asynchronously
  const data = path.resolve(o.data);
  const pairs = await readPreferences(data);
  const records = pairs.records.length ? pairs.records : (await readExamples(data)).records;
  const prompts = promptsOf(records).map((r) => r.prompt);
  if (!prompts.length) throw new GptLabError(`${data} has no prompts.`, 'NO_PROMPTS');
  const [after, before, rm] = await Promise.all([
    loadModel(path.resolve(o.model), { trainable: false }),
    loadModel(path.resolve(o.against), { trainable: false }),
    loadModel(path.resolve(o.reward), { trainable: false }),
  ]);
  try {
    if (!rm.model.params.has(SCORE_HEAD))
      throw new GptLabError(`${o.reward} is not a reward model.`, 'NOT_A_REWARD_MODEL');
    const w = await winRateByReward(before.model, after.model, rm.model, after.tokenizer, prompts, {
      maxNewTokens: int(o.maxTokens, '--max-tokens', 1, 256),
    });
    const cell = (s: string) => s.replace(/\n/g, '⏎').slice(0, 30).padEnd(30);
    for (const r of w.rows) {
      out.info(
        `${cell(r.prompt)}  ${r.beforeScore.toFixed(2).padStart(6)} ${cell(r.before)}  ${r.afterScore.toFixed(2).padStart(6)} ${cell(r.after)}`,
      );
    }
    out.info(
      `${path.basename(o.model)} vs ${path.basename(o.against)}: win rate ${pct(w.winRate)} by the reward model over ${w.rows.length} prompts (mean score ${w.meanBefore.toFixed(3)} → ${w.meanAfter.toFixed(3)})`,
    );
    out.event('done', w);
  } finally {
    for (const m of [after, before, rm]) m.model.dispose();
  }
}

/** Stage 3 on the command line: reward, dpo, ppo and compare. */
export function addAlignCommands(program: Command, backendOption: () => import('commander').Option): void {
  const stage = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .requiredOption('--model <dir>', 'the version to start from (left as it is)')
      .option('--out <dir>', `the new version (default: ${name}-N beside --model)`)
      .option('--minutes <n>', 'time budget in minutes (default 1 unless --steps); with --resume, minutes MORE')
      .option('--steps <n>', 'budget in optimizer steps; with --resume, steps MORE')
      .option('--lr <n>', 'peak learning rate')
      .option('--batch <n>', 'pairs (or prompts) per step (default 8)')
      .option('--seed <n>', 'random seed (integer ≥ 0)')
      .option('--resume', 'continue the run in --out (without a budget: finish its own)')
      .option('--force', 'replace the model already in --out')
      .addOption(backendOption())
      .option('--json', 'JSON lines on stdout');
  stage('reward', 'train a reward model (Stage 3): the backbone plus a scalar head, on ranked pairs')
    .requiredOption('--data <file>', 'pairs as JSONL: {"prompt", "chosen", "rejected"} per line (TRL format)')
    .action((opts) => rewardCommand(opts));
  stage('dpo', 'align with Direct Preference Optimization (Stage 3), straight from the pairs')
    .requiredOption('--data <file>', 'pairs as JSONL: {"prompt", "chosen", "rejected"} per line (TRL format)')
    .option('--beta <b>', 'how far the policy may move from --model (default 0.1)')
    .action((opts) => dpoCommand(opts));
  stage('ppo', 'align with PPO against a reward model (Stage 3), with a KL penalty to --model')
    .requiredOption('--reward <dir>', 'the reward model (gpt-lab reward)')
    .requiredOption('--data <file>', 'prompts: a JSONL of pairs or of examples')
    .option('--kl <coef>', 'KL penalty coefficient (default 0.05)')
    .option('--corpus <dir>', "also roll out from this folder's code")
    .action((opts) => ppoCommand(opts));
  program
    .command('compare')
    .description("two versions' completions of the same prompts, scored by a reward model, and the win rate")
    .requiredOption('--model <dir>', 'the aligned version')
    .requiredOption('--against <dir>', 'the version to compare with (e.g. its parent)')
    .requiredOption('--reward <dir>', 'the reward model')
    .requiredOption('--data <file>', 'prompts: a JSONL of pairs or of examples')
    .option('--max-tokens <n>', 'most new tokens per completion (default 24)')
    .addOption(backendOption())
    .option('--json', 'JSON on stdout')
    .action((opts) => compareCommand(opts));
}
