import * as vscode from 'vscode';
import { readExamples } from '../../core/data/examples';
import { formatProblems } from '../../core/data/jsonl';
import { promptsOf } from '../../core/data/preferences';
import type { VersionInfo } from '../../core/versions';
import type { AlignParams } from '../../protocol/worker';
import { alignRunState, RunState } from '../alignState';
import { config } from '../config';
import { collectWorkspaceCorpus } from '../corpus';
import { duration } from '../format';
import type { Lab } from '../lab';
import { log } from '../log';
import { AlignKind, AlignRunResult, runWithProgress } from './align';
import { readyToTrain } from './trainingRun';

const ALIGN_STAGES: readonly string[] = ['reward', 'dpo', 'ppo'] satisfies AlignKind[];

/** Scripted use (tests, the version's context menu passes its tree node, which has `version`). */
export interface ResumeAlignArgs {
  version?: string;
  /** Steps (or minutes) MORE; without either, an unfinished run finishes its own budget. */
  steps?: number;
  minutes?: number;
  showPanel?: boolean;
}

/**
 * "GPT Lab: Resume Alignment": continues a reward/DPO/PPO version in its own folder from its checkpoint, with the
 * data and settings it was started with (its lineage): a stopped run finishes its budget, a finished one trains
 * gptLab.align.steps (or minutes) more. The parent stays the reference.
 */
export async function resumeAlignCommand(lab: Lab, args: ResumeAlignArgs = {}): Promise<AlignRunResult | undefined> {
  if (!(await readyToTrain(lab))) return undefined;
  await lab.refresh();
  const v = await pickRun(lab, args.version);
  if (!v) return undefined;
  const kind = v.stage as AlignKind;
  let state: RunState;
  try {
    state = await alignRunState(v.dir);
  } catch (err) {
    void vscode.window.showErrorMessage(`"${v.name}" cannot be resumed: ${(err as Error).message}`);
    return undefined;
  }
  const parent = lab.versions.parentOf(v);
  if (!parent) {
    void vscode.window.showErrorMessage(
      `"${v.name}" cannot be resumed: its parent "${v.parent ?? '?'}" no longer exists (it is the reference the run stays near). Train a new version instead.`,
    );
    return undefined;
  }
  const unfinished = state.fraction < 1;
  const budget =
    args.steps !== undefined || args.minutes !== undefined
      ? { maxSteps: args.steps, maxMinutes: args.minutes }
      : unfinished
        ? {}
        : config.alignSteps() !== undefined
          ? { maxSteps: config.alignSteps() }
          : { maxMinutes: config.alignMinutes() };
  const params: AlignParams = {
    kind,
    parentDir: parent.dir,
    outDir: v.dir,
    dataFile: lab.preferences.file,
    resume: true,
    ...budget,
  };
  if (!(await addData(lab, v, params))) return undefined;
  const more =
    budget.maxSteps !== undefined
      ? `${budget.maxSteps} steps more`
      : budget.maxMinutes !== undefined
        ? `${duration(budget.maxMinutes * 60_000)} more`
        : `to step ${state.targetSteps ?? 'the end of its budget'}`;
  return runWithProgress(lab, params, v.name, parent.name, `resuming ${v.name} from step ${state.step}, ${more}`, args);
}

/** The run named, else the user's pick: unfinished runs first. */
async function pickRun(lab: Lab, name: string | undefined): Promise<VersionInfo | undefined> {
  if (name !== undefined) {
    const v = lab.versions.get(name);
    if (!v || !ALIGN_STAGES.includes(v.stage)) {
      void vscode.window.showErrorMessage(
        `"${name}" is not a reward model, DPO or PPO version: it cannot resume here.`,
      );
      return undefined;
    }
    return v;
  }
  const runs = lab.versions.list.filter((x) => ALIGN_STAGES.includes(x.stage));
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(
      'There is no alignment run to resume: train a reward model or align with DPO or PPO first.',
    );
    return undefined;
  }
  const items = await Promise.all(
    runs.map(async (x) => {
      const s = await alignRunState(x.dir).catch(() => undefined);
      return {
        label: x.name,
        description: s
          ? s.fraction < 1
            ? `stopped at step ${s.step} (${Math.floor(s.fraction * 100)}% of its budget)`
            : `finished at step ${s.step}: trains more`
          : 'its checkpoint cannot be read',
        v: x,
        order: s ? s.fraction : 2,
      };
    }),
  );
  items.sort((a, b) => a.order - b.order);
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Resume which alignment run?',
    ignoreFocusOut: true,
  });
  return picked?.v;
}

/** The run's data as it was started: the pairs it counted, its β or KL coefficient, its reward model. */
async function addData(lab: Lab, v: VersionInfo, params: AlignParams): Promise<boolean> {
  const data = v.data ?? {};
  const { records, problems } = await lab.preferences.read();
  if (problems.length) log(`resume ${v.name}: ${formatProblems(lab.preferences.file, problems)}`);
  if (params.kind === 'ppo') {
    const rewardName = lab.versions.currentName(typeof data.reward === 'string' ? data.reward : undefined);
    const reward = lab.versions.get(rewardName);
    if (!reward || reward.stage !== 'reward') {
      void vscode.window.showErrorMessage(
        `"${v.name}" cannot be resumed: its reward model "${rewardName ?? '?'}" no longer exists.`,
      );
      return false;
    }
    params.rewardDir = reward.dir;
    params.klCoef = typeof data.klCoef === 'number' ? data.klCoef : config.ppoKlCoef();
    const examples = await readExamples(lab.examplesFile).catch(() => ({ records: [] }));
    params.prompts = promptsOf([...records, ...examples.records]).map((r) => ({ prompt: r.prompt }));
    // It rolled out from workspace contexts too when it counted more prompts than the files hold.
    if (typeof data.prompts === 'number' && data.prompts > params.prompts.length) {
      params.corpusFiles = await collectWorkspaceCorpus()
        .then((c) => c.files)
        .catch(() => undefined);
    }
    return true;
  }
  const counted = typeof data.pairs === 'number' ? data.pairs : records.length;
  if (records.length < counted)
    log(`resume ${v.name}: it trained on ${counted} pairs, ${records.length} are left: the split changes`);
  params.pairs = records.slice(0, counted);
  if (params.pairs.length === 0) {
    void vscode.window.showErrorMessage(`"${v.name}" cannot be resumed: preferences.jsonl has no pairs now.`);
    return false;
  }
  if (params.kind === 'dpo') params.beta = typeof data.beta === 'number' ? data.beta : config.dpoBeta();
  return true;
}
