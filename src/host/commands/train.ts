import * as vscode from 'vscode';
import { formatCorpusSummary } from '../../core/corpus';
import { autoPreset, PRESETS, resolvePreset, withArchitecture } from '../../core/model/config';
import { defaultTrainConfig } from '../../core/train/config';
import type { TrainResult } from '../../core/train/trainer';
import type { CorpusPayload } from '../../protocol/worker';
import { config } from '../config';
import { collectWorkspaceCorpus, EmptyCorpusError } from '../corpus';
import { compact, duration } from '../format';
import type { Lab } from '../lab';
import { log, showLog } from '../log';
import { LossPanel } from '../panels/lossPanel';
import { errorCode } from '../errors';
import { trainEstimate } from './trainEstimate';
import { readyToTrain, withTrainingProgress } from './trainingRun';

/**
 * Arguments for scripted use (tests, keybindings): skip the quick pick. On Resume, the budget is trained on top
 * of the checkpoint's (steps: 10 from step 30 ends at step 40); without one, gptLab.trainingMinutes more.
 */
export interface TrainArgs {
  preset?: string;
  minutes?: number;
  steps?: number;
}

async function pickPreset(corpus: CorpusPayload, minutes: number, replacing: boolean): Promise<string | undefined> {
  const o = { corpusBytes: corpus.summary.bytes, minutes, architecture: config.architecture() };
  const items = [...Object.values(PRESETS), autoPreset(o)].map((p) => {
    const e = trainEstimate(p, o);
    return {
      label: p.name,
      description: `${compact(e.parameters)} parameters · ${duration(minutes * 60_000)} · ~${e.passes.toFixed(1)}× through the corpus`,
      detail: p.description,
      picked: p.name === config.preset(),
    };
  });
  items.sort((a, b) => Number(b.picked) - Number(a.picked));
  const choice = await vscode.window.showQuickPick(items, {
    title: `Train on ${formatCorpusSummary(corpus.summary)}`,
    placeHolder: `Choose a model size (budget: gptLab.trainingMinutes = ${minutes} min)${replacing ? ' — replaces the current model' : ''}`,
    ignoreFocusOut: true,
  });
  return choice?.label;
}

async function collect(): Promise<CorpusPayload | undefined> {
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'GPT Lab: reading workspace files…', cancellable: false },
      () => collectWorkspaceCorpus(),
    );
  } catch (err) {
    if (err instanceof EmptyCorpusError) {
      const open = await vscode.window.showErrorMessage(err.message, 'Open Settings');
      if (open) await vscode.commands.executeCommand('workbench.action.openSettings', 'gptLab.include');
      return undefined;
    }
    throw err;
  }
}

/** "GPT Lab: Train on Workspace" and "Resume Training". Resolves when the run ends (undefined if it did not run). */
export async function trainOnWorkspace(
  lab: Lab,
  args: TrainArgs = {},
  resume = false,
): Promise<TrainResult | undefined> {
  if (!(await readyToTrain(lab))) return undefined;
  if (resume && !lab.info) {
    void vscode.window.showErrorMessage('There is no model to resume. Run "GPT Lab: Train on Workspace" first.');
    return undefined;
  }
  const corpus = await collect();
  if (!corpus) return undefined;
  const minutes = args.minutes ?? config.trainingMinutes();
  const preset = resume
    ? (lab.info?.preset ?? 'tiny')
    : (args.preset ?? (await pickPreset(corpus, minutes, lab.info !== null)));
  if (!preset) return undefined;
  const sized = defaultTrainConfig(
    resolvePreset(preset, { corpusBytes: corpus.summary.bytes, minutes }),
    args.steps !== undefined ? { maxSteps: args.steps, maxMinutes: args.minutes } : { maxMinutes: minutes },
  );
  // A new model has the gptLab.training.architecture setting's; a resumed one keeps the checkpoint's. Resuming
  // trains the minutes or steps asked for, with no passes cap (as `gpt-lab train --resume --minutes N`): an auto
  // model's cap, counted from its first step, would otherwise end the resumed run before it began.
  const cfg = resume ? { ...sized, maxPasses: undefined } : withArchitecture(sized, config.architecture());

  const title = resume
    ? `GPT Lab: training ${budgetText(cfg)} more from step ${lab.info?.step ?? 0}`
    : `GPT Lab: training ${preset}${cfg.maxPasses ? ` (at most ${cfg.maxPasses} passes over your code)` : ''}`;
  return withTrainingProgress(
    lab,
    title,
    async () => {
      const result = await lab.train(corpus, cfg, resume);
      void announce(lab, result);
      return result;
    },
    (err) => void reportFailure(lab, err),
  );
}

/** "30 steps", "2 min": the budget a run was given. */
function budgetText(cfg: { maxSteps?: number; maxMinutes?: number }): string {
  return cfg.maxSteps !== undefined ? `${cfg.maxSteps} steps` : duration((cfg.maxMinutes ?? 0) * 60_000);
}

async function announce(lab: Lab, r: TrainResult): Promise<void> {
  const what =
    r.stopped === 'cancelled'
      ? `Training stopped at step ${r.step} and was saved`
      : r.endedBy === 'passes'
        ? `Training finished after ${+(r.passes ?? 0).toFixed(1)} passes over your code (${r.step} steps), before the time budget: more would memorise it`
        : `Training finished (${r.step} steps)`;
  const choice = await vscode.window.showInformationMessage(
    `${what}: validation loss ${r.initialValLoss.toFixed(2)} → ${r.valLoss.toFixed(2)} (${r.valBpb.toFixed(2)} bits per byte).`,
    'Show Panel',
    'Model Info',
  );
  if (choice === 'Show Panel') LossPanel.createOrShow(lab);
  if (choice === 'Model Info') await vscode.commands.executeCommand('gptLab.showModelInfo');
}

async function reportFailure(lab: Lab, err: unknown): Promise<void> {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  log(`training failed (${code}): ${message}`);
  if (code === 'WORKER_CRASHED' || code === 'WORKER_STOPPED') {
    const saved = lab.info ? ` The last checkpoint (step ${lab.info.step}) is intact.` : '';
    const actions = lab.info ? ['Resume', 'Open Log'] : ['Open Log'];
    const choice = await vscode.window.showErrorMessage(`${message}${saved}`, ...actions);
    if (choice === 'Resume') await vscode.commands.executeCommand('gptLab.resume');
    if (choice === 'Open Log') showLog();
    return;
  }
  const why = code === 'LOCKED' ? `another window or process is already training this model. ${message}` : message;
  const choice = await vscode.window.showErrorMessage(`GPT Lab could not train: ${why}`, 'Open Log');
  if (choice) showLog();
}
