import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkpointExists } from '../../core/checkpoint';
import { readExamples } from '../../core/data/examples';
import { formatProblems } from '../../core/data/jsonl';
import { readComparison } from '../../core/train/finetune';
import { nextVersionName } from '../../core/versions';
import type { FinetuneOutcome, FinetuneParams } from '../../protocol/worker';
import { config } from '../config';
import { collectWorkspaceCorpus } from '../corpus';
import { errorCode } from '../errors';
import { readyToTrain, withTrainingProgress } from './trainingRun';
import type { Lab } from '../lab';
import { log, showLog } from '../log';
import { LossPanel } from '../panels/lossPanel';
import { comparisonMarkdown } from '../versionText';
import { pickVersion } from './versions';

/** Arguments for scripted use (tests, keybindings); each falls back to its gptLab.finetune.* setting. */
export interface FinetuneArgs {
  steps?: number;
  minutes?: number;
  learningRate?: number;
  mixShare?: number;
  /** The version to start from (default: the active one). */
  from?: string;
  /** Open the before/after table when done (default true). */
  showComparison?: boolean;
}

export interface FinetuneRun {
  version: string;
  result: FinetuneOutcome;
}

/**
 * "GPT Lab: Fine-Tune on Examples": Stage 2 in the worker, from the active version into the next `sft-N` beside
 * it, with a share of workspace rows mixed in; progress with Cancel; the new version serves completions as soon
 * as it is done, and its before/after table opens. Resolves with the run (undefined when it did not run).
 */
export async function finetuneOnExamples(lab: Lab, args: FinetuneArgs = {}): Promise<FinetuneRun | undefined> {
  if (!(await readyToTrain(lab))) return undefined;
  await lab.refresh();
  const parent = lab.versions.get(args.from ?? lab.versions.active);
  if (!parent) {
    const choice = await vscode.window.showErrorMessage(
      'There is no model to fine-tune yet: train one on this workspace first, then teach it with examples.',
      'Train on Workspace',
    );
    if (choice) await vscode.commands.executeCommand('gptLab.train');
    return undefined;
  }
  const { records: examples, problems } = await readExamples(lab.examplesFile);
  if (problems.length) {
    const skipped = formatProblems(lab.examplesFile, problems);
    log(`fine-tune: ${skipped}`);
    void vscode.window.showWarningMessage(`${skipped}. Open the file to fix them; the other examples are used.`);
  }
  if (examples.length === 0) {
    const actions = ['Add Example', 'Import Examples', ...(lab.exampleCounts.candidates ? ['Promote Candidates'] : [])];
    const choice = await vscode.window.showErrorMessage(
      `There are no examples to fine-tune on yet. Write some (select a comment, then "GPT Lab: Add Example"), import a JSONL file${lab.exampleCounts.candidates ? `, or promote the ${lab.exampleCounts.candidates} completions you accepted` : ''}.`,
      ...actions,
    );
    const ids: Record<string, string> = {
      'Add Example': 'gptLab.addExample',
      'Import Examples': 'gptLab.importExamples',
      'Promote Candidates': 'gptLab.promoteCandidates',
    };
    if (choice) await vscode.commands.executeCommand(ids[choice]);
    return undefined;
  }

  const existing = await fs.readdir(lab.versions.root).catch(() => [] as string[]);
  const name = nextVersionName([...existing, ...lab.versions.list.map((v) => v.name)], 'sft');
  const outDir = path.join(lab.versions.root, name);
  const mixShare = args.mixShare ?? config.finetuneMixShare();
  let corpusFiles: FinetuneParams['corpusFiles'];
  if (mixShare > 0) {
    try {
      corpusFiles = (await collectWorkspaceCorpus()).files;
    } catch (err) {
      log(`fine-tune: no workspace rows to mix in (${(err as Error).message})`);
    }
  }
  const steps = args.steps ?? config.finetuneSteps();
  const minutes = args.minutes ?? (steps === undefined ? config.finetuneMinutes() : undefined);
  const params: FinetuneParams = {
    parentDir: parent.dir,
    outDir,
    examples,
    dataFile: lab.examplesFile,
    maxSteps: steps,
    maxMinutes: minutes,
    learningRate: args.learningRate ?? config.finetuneLearningRate(),
    corpusFiles,
    mixShare: corpusFiles?.length ? mixShare : 0,
  };

  const run = await withTrainingProgress(
    lab,
    `GPT Lab: fine-tuning ${parent.name} → ${name} on ${examples.length} example${examples.length === 1 ? '' : 's'}`,
    async (): Promise<FinetuneRun> => ({ version: name, result: await lab.finetune(params, name) }),
    (err) => void reportFailure(err),
  );
  if (!checkpointExists(outDir)) await fs.rm(outDir, { recursive: true, force: true }).catch(() => undefined);
  if (!run) return undefined;
  if (run.result.comparison && args.showComparison !== false) await showComparison(lab, name);
  void announce(lab, parent.name, run);
  return run;
}

async function announce(lab: Lab, parentName: string, { version, result: r }: FinetuneRun): Promise<void> {
  const acc = r.metrics.tokenAccuracy;
  const on = r.heldOut ? `${r.heldOutCount} held-out examples` : 'the training examples (too few to hold any out)';
  const what =
    r.stopped === 'cancelled'
      ? `Fine-tuning stopped at step ${r.step}; "${version}" is saved but ${parentName} still serves completions (Use Version switches).`
      : `"${version}" is ready and serves completions.`;
  const figures = `On ${on}: loss ${r.initialValLoss.toFixed(2)} → ${r.valLoss.toFixed(2)}${acc !== undefined ? `, token accuracy ${(acc * 100).toFixed(0)}%` : ''}${r.comparison ? `, exact match ${(r.comparison.parent.exactMatch * 100).toFixed(0)}% → ${(r.comparison.child.exactMatch * 100).toFixed(0)}%` : ''}.`;
  const actions = r.stopped === 'cancelled' ? ['Use Version', 'Show Panel'] : ['Show Before/After', 'Roll Back'];
  const choice = await vscode.window.showInformationMessage(`${what} ${figures}`, ...actions);
  if (choice === 'Show Before/After') await showComparison(lab, version);
  if (choice === 'Roll Back') await vscode.commands.executeCommand('gptLab.rollBack', { version });
  if (choice === 'Use Version') await vscode.commands.executeCommand('gptLab.useVersion', { version });
  if (choice === 'Show Panel') LossPanel.createOrShow(lab);
}

async function reportFailure(err: unknown): Promise<void> {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  log(`fine-tuning failed (${code}): ${message}`);
  const why = code === 'LOCKED' ? `another window or process is writing this version. ${message}` : message;
  const choice = await vscode.window.showErrorMessage(`GPT Lab could not fine-tune: ${why}`, 'Open Log');
  if (choice) showLog();
}

/** "GPT Lab: Show Before/After": a fine-tuned version's table (Markdown preview, following the theme). */
export async function showComparison(lab: Lab, arg?: unknown): Promise<boolean> {
  const v =
    arg === undefined
      ? (await lab.versions.refresh(), lab.versions.get(lab.versions.active))
      : await pickVersion(lab, arg, '');
  const c = v && (await readComparison(v.dir));
  if (!v || !c) {
    void vscode.window.showInformationMessage(
      `${v ? `"${v.name}" has` : 'There is'} no before/after table: fine-tuned versions whose run finished have one.`,
    );
    return false;
  }
  const parentName = lab.versions.parentOf(v)?.name ?? v.parent ?? 'parent';
  const heldOut = typeof v.data?.heldOut === 'number' ? v.data.heldOut > 0 : undefined;
  // A file, not an untitled document: nothing asks to be saved when the window closes.
  const file = path.join(lab.storageDir, 'reports', `${v.name}-before-after.md`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, comparisonMarkdown(c, { parent: parentName, child: v.name }, heldOut));
  await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(file));
  return true;
}
