import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkpointExists } from '../../core/checkpoint';
import { readExamples } from '../../core/data/examples';
import { formatProblems } from '../../core/data/jsonl';
import { promptsOf } from '../../core/data/preferences';
import { nextVersionName } from '../../core/versions';
import type { AlignOutcome, AlignParams } from '../../protocol/worker';
import { config } from '../config';
import { collectWorkspaceCorpus } from '../corpus';
import { errorCode } from '../errors';
import { percent, progressText } from '../../protocol/format';
import type { Lab } from '../lab';
import { log, showLog } from '../log';
import { AlignPanel } from '../panels/alignPanel';
import { readyToTrain, withTrainingProgress } from './trainingRun';

export type AlignKind = AlignParams['kind'];

/** Scripted use (tests, keybindings); each falls back to its setting. */
export interface AlignArgs {
  steps?: number;
  minutes?: number;
  learningRate?: number;
  /** The version to start from (default: the active one). */
  from?: string;
  /** PPO: the reward version (default: asked with a quick pick). */
  reward?: string;
  beta?: number;
  klCoef?: number;
  /** PPO: also roll out from the workspace's own code (default true). */
  corpus?: boolean;
  /** Open the alignment panel when done (default true). */
  showPanel?: boolean;
}

export interface AlignRunResult {
  version: string;
  result: AlignOutcome;
}

const TITLES: Record<AlignKind, string> = {
  reward: 'training a reward model',
  dpo: 'aligning with DPO',
  ppo: 'aligning with PPO',
};

/**
 * "GPT Lab: Train Reward Model", "Align with DPO", "Align with PPO": Stage 3 in the worker, from the active
 * version into the next `reward-N` / `dpo-N` / `ppo-N` beside it, with progress and Cancel. Completions keep
 * coming from the inference worker meanwhile. Resolves with the run (undefined when it did not run).
 */
export async function alignCommand(
  lab: Lab,
  kind: AlignKind,
  args: AlignArgs = {},
): Promise<AlignRunResult | undefined> {
  if (!(await readyToTrain(lab))) return undefined;
  await lab.refresh();
  const parent = lab.versions.get(args.from ?? lab.versions.active);
  if (!parent) {
    const choice = await vscode.window.showErrorMessage(
      'There is no model to align yet: train one on this workspace first, then rank its completions.',
      'Train on Workspace',
    );
    if (choice) await vscode.commands.executeCommand('gptLab.train');
    return undefined;
  }
  const { records: pairs, problems } = await lab.preferences.read();
  if (problems.length) {
    const skipped = formatProblems(lab.preferences.file, problems);
    log(`${kind}: ${skipped}`);
    void vscode.window.showWarningMessage(`${skipped}. Open the file to fix them; the other pairs are used.`);
  }
  const params: AlignParams = {
    kind,
    parentDir: parent.dir,
    outDir: '',
    dataFile: lab.preferences.file,
    maxSteps: args.steps ?? config.alignSteps(),
    learningRate: args.learningRate,
  };
  params.maxMinutes = args.minutes ?? (params.maxSteps === undefined ? config.alignMinutes() : undefined);
  let rewardName: string | undefined;
  if (kind === 'ppo') {
    const reward = await pickReward(lab, args.reward);
    if (!reward) return undefined;
    rewardName = reward.name;
    params.rewardDir = reward.dir;
    params.klCoef = args.klCoef ?? config.ppoKlCoef();
    const examples = await readExamples(lab.examplesFile).catch(() => ({ records: [] }));
    params.prompts = promptsOf([...pairs, ...examples.records]).map((r) => ({ prompt: r.prompt }));
    if (args.corpus !== false) {
      try {
        params.corpusFiles = (await collectWorkspaceCorpus()).files;
      } catch (err) {
        log(`ppo: no workspace contexts to roll out from (${(err as Error).message})`);
      }
    }
    if (params.prompts.length === 0 && !params.corpusFiles?.length) {
      return noData(lab, 'PPO needs prompts to roll out from: rank some completions or add examples first.');
    }
  } else {
    if (pairs.length === 0) {
      return noData(
        lab,
        `There are no preference pairs to ${kind === 'dpo' ? 'align with' : 'train a reward model on'} yet. Rank some completions (put the cursor in code, then "GPT Lab: Rank Completions"), or import a JSONL file.`,
      );
    }
    params.pairs = pairs;
    if (kind === 'dpo') params.beta = args.beta ?? config.dpoBeta();
  }

  const existing = await fs.readdir(lab.versions.root).catch(() => [] as string[]);
  const name = nextVersionName([...existing, ...lab.versions.list.map((v) => v.name)], kind);
  params.outDir = path.join(lab.versions.root, name);
  const what =
    kind === 'ppo'
      ? `${params.prompts!.length} prompts${params.corpusFiles?.length ? ' and workspace contexts' : ''}, reward model ${rewardName}`
      : `${pairs.length} pair${pairs.length === 1 ? '' : 's'}`;
  return runWithProgress(lab, params, name, parent.name, `${parent.name} → ${name} on ${what}`, args);
}

/** Runs `params` in the worker as version `name` with progress and Cancel; then the panel and the announcement. */
export async function runWithProgress(
  lab: Lab,
  params: AlignParams,
  name: string,
  parentName: string,
  what: string,
  args: AlignArgs,
): Promise<AlignRunResult | undefined> {
  const kind = params.kind;
  const run = await withTrainingProgress(
    lab,
    `GPT Lab: ${TITLES[kind]} — ${what}`,
    async (): Promise<AlignRunResult> => ({ version: name, result: await lab.align(params, name) }),
    (err) => void reportFailure(kind, err),
    (p) => progressText(p, { percent: true, figures: progressFigures(kind, p.loss, p.metrics) }),
  );
  if (!params.resume && !checkpointExists(params.outDir))
    await fs.rm(params.outDir, { recursive: true, force: true }).catch(() => undefined);
  if (!run) return undefined;
  if (args.showPanel !== false) await AlignPanel.show(lab, name);
  void announce(kind, parentName, run);
  return run;
}

function progressFigures(kind: AlignKind, loss: number, m: Record<string, number> | undefined): string {
  const f = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
  const pct = percent;
  if (kind === 'ppo')
    return `reward ${f(m?.reward)} · KL ${f(m?.kl)} · clipped ${pct(m?.clipFraction)} · value loss ${f(m?.valueLoss)}`;
  return `loss ${loss.toFixed(3)} · accuracy ${pct(m?.accuracy)} · margin ${f(m?.margin)}`;
}

/** The reward version PPO scores with: `name` when given, the only one, else the user's pick (newest first). */
async function pickReward(lab: Lab, name: string | undefined) {
  const rewards = lab.versions.list.filter((v) => v.stage === 'reward').reverse();
  if (name !== undefined) {
    const v = lab.versions.get(name);
    if (!v || v.stage !== 'reward') {
      void vscode.window.showErrorMessage(`"${name}" is not a reward model version.`);
      return undefined;
    }
    return v;
  }
  if (rewards.length === 0) {
    const choice = await vscode.window.showErrorMessage(
      'PPO needs a reward model to score its completions: train one first from your rankings.',
      'Train Reward Model',
    );
    if (choice) await vscode.commands.executeCommand('gptLab.trainRewardModel');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    rewards.map((v) => ({
      label: v.name,
      description: [
        v.metrics.accuracy !== undefined ? `held-out accuracy ${(v.metrics.accuracy * 100).toFixed(0)}%` : '',
        v.parent ? `from ${v.parent}` : '',
      ]
        .filter(Boolean)
        .join(' · '),
      detail: new Date(v.date).toLocaleString(),
      v,
    })),
    { title: 'Align with PPO: which reward model scores the completions?', ignoreFocusOut: true },
  );
  return picked?.v;
}

async function noData(lab: Lab, message: string): Promise<undefined> {
  const choice = await vscode.window.showErrorMessage(message, 'Rank Completions', 'Import Preferences');
  if (choice === 'Rank Completions') await vscode.commands.executeCommand('gptLab.rankCompletions');
  if (choice === 'Import Preferences') await vscode.commands.executeCommand('gptLab.importPreferences');
  void lab;
  return undefined;
}

async function announce(kind: AlignKind, parentName: string, { version, result: r }: AlignRunResult): Promise<void> {
  const m = r.metrics;
  const on = r.heldOut ? `${r.heldOutCount} held-out ${kind === 'ppo' ? 'prompts' : 'pairs'}` : 'the training data';
  const figures =
    kind === 'ppo'
      ? `reward ${(-r.initialValLoss).toFixed(2)} → ${(m.reward ?? NaN).toFixed(2)}, KL to ${parentName} ${(m.kl ?? NaN).toFixed(2)}`
      : kind === 'dpo'
        ? `accuracy ${((m.accuracy ?? NaN) * 100).toFixed(0)}%, margin ${(m.margin ?? NaN).toFixed(2)} (implicit rewards: chosen ${(m.rewardChosen ?? NaN).toFixed(2)}, rejected ${(m.rewardRejected ?? NaN).toFixed(2)})`
        : `accuracy ${((m.accuracy ?? NaN) * 100).toFixed(0)}%, margin ${(m.margin ?? NaN).toFixed(2)}`;
  const what =
    r.stopped === 'cancelled'
      ? `Stopped at step ${r.step}; "${version}" is saved${kind === 'reward' ? '' : ` but ${parentName} still serves completions`}.`
      : kind === 'reward'
        ? `Reward model "${version}" is ready: align with PPO to use it.`
        : `"${version}" is ready and serves completions.`;
  const actions =
    r.stopped === 'cancelled'
      ? ['Resume', 'Show Alignment']
      : kind === 'reward'
        ? ['Align with PPO', 'Show Alignment']
        : ['Show Alignment', 'Roll Back'];
  const choice = await vscode.window.showInformationMessage(`${what} On ${on}: ${figures}.`, ...actions);
  if (choice === 'Resume') await vscode.commands.executeCommand('gptLab.resumeAlignment', { version });
  if (choice === 'Align with PPO') await vscode.commands.executeCommand('gptLab.alignPpo', { reward: version });
  if (choice === 'Show Alignment') await vscode.commands.executeCommand('gptLab.showAlignment', { version });
  if (choice === 'Roll Back') await vscode.commands.executeCommand('gptLab.rollBack', { version });
}

async function reportFailure(kind: AlignKind, err: unknown): Promise<void> {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  log(`${kind} failed (${code}): ${message}`);
  const why = code === 'LOCKED' ? `another window or process is writing this version. ${message}` : message;
  const choice = await vscode.window.showErrorMessage(`GPT Lab could not finish ${TITLES[kind]}: ${why}`, 'Open Log');
  if (choice) showLog();
}
