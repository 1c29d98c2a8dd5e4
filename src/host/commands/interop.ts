import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkpointExists } from '../../core/checkpoint';
import { EXPORT_FORMAT } from '../../core/interop';
import { checkVersionName, nextVersionName, VersionInfo } from '../../core/versions';
import type { ExportModelParams, ExportModelResult, ImportModelParams, ImportModelResult } from '../../protocol/worker';
import { collectWorkspaceCorpus } from '../corpus';
import { errorCode } from '../errors';
import { compact } from '../format';
import type { Lab } from '../lab';
import { log, showLog } from '../log';
import { pickVersion } from './versions';

/** Arguments for scripted use (tests, keybindings); what is not given is asked for. */
export interface ExportArgs {
  /** The version to export (default: asked, the active one first). A tree item ({ version }) works too. */
  version?: string;
  /** The folder to export into (new, empty, or an earlier export; else a new sub-folder of it is used). */
  folder?: string;
  /** false: weights and tokenizer only, no train.bin/val.bin. */
  corpus?: boolean;
}

export interface ExportRun {
  version: string;
  outDir: string;
  result: ExportModelResult;
  /** The torchrun line that trains the export on the GPUs of one machine. */
  command: string;
}

export interface ImportArgs {
  /** The folder holding config.json, model.safetensors and a tokenizer (default: asked). */
  from?: string;
  /** The new version's name (default: `imported-N`, asked unless `from` was given). */
  name?: string;
  /** Make the new version active without asking. */
  use?: boolean;
}

export interface ImportRun {
  version: string;
  result: ImportModelResult;
}

/** Quotes a path for a POSIX shell when it needs it. */
function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The line scale/README.md gives for one machine with 8 GPUs, with the export filled in: it trains `outDir` and
 * writes `<outDir>-trained`, which "Import a Trained Model" brings back. The trainer ships with the extension.
 */
export function torchrunLine(extensionPath: string, outDir: string): string {
  const shipped = path.join(extensionPath, 'scale', 'train_ddp.py');
  const script = existsSync(shipped) ? shipped : 'scale/train_ddp.py';
  return [
    'torchrun --standalone --nproc_per_node=8',
    shellQuote(script),
    `--data ${shellQuote(outDir)}`,
    `--out ${shellQuote(`${outDir}-trained`)}`,
    '--steps 5000',
  ].join(' ');
}

/** A version named by a tree item or a string, else picked (the active one first, so Enter exports it). */
async function versionToExport(lab: Lab, arg: unknown): Promise<VersionInfo | undefined> {
  if (arg !== undefined) return pickVersion(lab, arg, '');
  await lab.versions.refresh();
  const list = lab.versions.list;
  if (list.length <= 1) {
    if (list.length === 0)
      void vscode.window.showInformationMessage('There is no model to export yet: train one on this workspace first.');
    return list[0];
  }
  const active = lab.versions.active;
  const ordered = [...list].reverse().sort((a, b) => Number(b.name === active) - Number(a.name === active));
  const pick = await vscode.window.showQuickPick(
    ordered.map((v) => ({
      label: `${v.name === active ? '$(pass-filled) ' : ''}${v.name}`,
      description: `${v.stage}, step ${v.step}${v.name === active ? ' · active' : ''}`,
      version: v,
    })),
    { title: 'GPT Lab: Export for a Cluster', placeHolder: 'Which version should train on a cluster?' },
  );
  return pick?.version;
}

/**
 * Where an export goes: the chosen folder when it is new, empty or an earlier export; else a new sub-folder
 * `<version>-export[-N]` in it (a dialog cannot always create a folder, and nothing of the user's is replaced).
 */
async function exportFolder(chosen: string, version: string): Promise<string> {
  const names = await fs.readdir(chosen).catch(() => undefined);
  if (!names || names.length === 0) return chosen;
  try {
    const cfg = JSON.parse(await fs.readFile(path.join(chosen, 'config.json'), 'utf8')) as {
      gpt_lab?: { format?: unknown };
    };
    if (cfg?.gpt_lab?.format === EXPORT_FORMAT) return chosen;
  } catch {
    // not an export
  }
  for (let n = 1; ; n++) {
    const dir = path.join(chosen, `${version}-export${n === 1 ? '' : `-${n}`}`);
    if (!existsSync(dir)) return dir;
  }
}

/** The folder holding the workspace: an export inside the workspace would join the next training corpus. */
function besideWorkspace(): vscode.Uri | undefined {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
  return ws && vscode.Uri.joinPath(ws, '..');
}

async function showFailure(what: string, err: unknown): Promise<void> {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  log(`${what} failed (${code}): ${message}`);
  const choice = await vscode.window.showErrorMessage(`GPT Lab could not ${what}: ${message}`, 'Open Log');
  if (choice) showLog();
}

/** Runs a worker job under a progress notification whose message follows the job's log lines. */
function withJobProgress<T>(lab: Lab, title: string, job: () => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, async (progress) => {
    const sub = lab.worker.onEvent((e) => {
      if (e.event === 'log') progress.report({ message: e.data.message.replace(/^(export|import): /, '') });
    });
    try {
      return await job();
    } finally {
      sub.dispose();
    }
  });
}

/**
 * "GPT Lab: Export for a Cluster": a version as Hugging Face GPT-2 weights, its tokenizer and the workspace's
 * files tokenized as train.bin/val.bin (the files training reads), then the torchrun line that trains it with
 * scale/train_ddp.py ("Copy Command" puts it on the clipboard). Resolves with the export (undefined when none).
 */
export async function exportForCluster(lab: Lab, args: ExportArgs = {}): Promise<ExportRun | undefined> {
  if (lab.training) {
    void vscode.window.showErrorMessage('Wait for training to finish (or stop it) before exporting a version.');
    return undefined;
  }
  const a = args;
  const v = await versionToExport(lab, a.version);
  if (!v) return undefined;
  let chosen = a.folder;
  if (chosen === undefined) {
    const uris = await vscode.window.showOpenDialog({
      title: `Export "${v.name}" for a cluster: a new or empty folder`,
      openLabel: 'Export Here',
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      defaultUri: besideWorkspace(),
    });
    if (!uris?.length) return undefined;
    chosen = uris[0].fsPath;
  }
  const outDir = await exportFolder(path.resolve(chosen), v.name);
  const run = await withJobProgress(lab, `GPT Lab: exporting "${v.name}" for a cluster`, async () => {
    try {
      let corpus: ExportModelParams['corpus'];
      if (a.corpus !== false) {
        try {
          const c = await collectWorkspaceCorpus();
          // Not an earlier export's own files, when it sits inside the workspace.
          const files = c.files.filter((f) => !path.resolve(c.root, f.path).startsWith(outDir + path.sep));
          corpus = { root: c.root, files };
        } catch (err) {
          log(`export: no workspace files (${(err as Error).message}); the corpus the version trained on is used`);
        }
      }
      await lab.worker.request('hello', {});
      const result = await lab.worker.request('exportModel', { modelDir: v.dir, outDir, corpus });
      return {
        version: v.name,
        outDir: result.outDir,
        result,
        command: torchrunLine(lab.context.extensionPath, result.outDir),
      };
    } catch (err) {
      void showFailure(`export "${v.name}"`, err);
      return undefined;
    }
  });
  if (!run) return undefined;
  log(`exported "${v.name}" (step ${run.result.step}) to ${run.outDir}; train it with: ${run.command}`);
  void announceExport(run);
  return run;
}

async function announceExport(run: ExportRun): Promise<void> {
  const c = run.result.corpus;
  const data = c
    ? ` with ${compact(c.train_tokens)} training and ${compact(c.val_tokens)} validation tokens`
    : ' without a corpus (no train.bin: the trainer needs one)';
  const note = run.result.hfCompatible ? '' : ` (${run.result.incompatible.join(', ')}: train_ddp.py trains it)`;
  const choice = await vscode.window.showInformationMessage(
    `Exported "${run.version}" to ${run.outDir}${data}${note}. Train it on a machine with 8 GPUs (set --nproc_per_node to yours), then "GPT Lab: Import a Trained Model" from ${run.outDir}-trained:\n${run.command}`,
    'Copy Command',
    'Reveal Folder',
  );
  if (choice === 'Copy Command') {
    await vscode.env.clipboard.writeText(run.command);
    vscode.window.setStatusBarMessage('GPT Lab: the torchrun command is on the clipboard.', 5000);
  }
  if (choice === 'Reveal Folder') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(run.outDir));
}

/**
 * "GPT Lab: Import a Trained Model": a GPT Lab export trained further by torchrun (or a GPT-2 checkpoint) becomes
 * a new version `<models>/<name>` beside the others; "Use This Version" makes it serve completions.
 */
export async function importTrainedModel(lab: Lab, args: ImportArgs = {}): Promise<ImportRun | undefined> {
  if (lab.training) {
    void vscode.window.showErrorMessage('Wait for training to finish (or stop it) before importing a model.');
    return undefined;
  }
  let from = args.from;
  if (from === undefined) {
    const uris = await vscode.window.showOpenDialog({
      title: 'Import a trained model: the folder with config.json, model.safetensors and a tokenizer',
      openLabel: 'Import',
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
    });
    if (!uris?.length) return undefined;
    from = uris[0].fsPath;
  }
  const fromDir = path.resolve(from);
  await lab.versions.refresh();
  const existing = await fs.readdir(lab.versions.root).catch(() => [] as string[]);
  const taken = (n: string) => existing.includes(n) || lab.versions.get(n) !== undefined;
  const suggested = nextVersionName([...existing, ...lab.versions.list.map((v) => v.name)], 'imported');
  const validate = (s: string): string | undefined => {
    try {
      const n = checkVersionName(s);
      return taken(n) ? `A version (or folder) named "${n}" already exists.` : undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  let name = args.name ?? (args.from !== undefined ? suggested : undefined);
  if (name === undefined) {
    name = await vscode.window.showInputBox({
      title: `Import ${path.basename(fromDir)} as a new version`,
      value: suggested,
      prompt: 'Letters, digits, ".", "_" or "-" (at most 64).',
      validateInput: validate,
    });
    if (name === undefined) return undefined;
  }
  const problem = validate(name);
  if (problem) {
    void vscode.window.showErrorMessage(`GPT Lab could not import ${fromDir}: ${problem}`);
    return undefined;
  }
  const version = checkVersionName(name);
  const outDir = path.join(lab.versions.root, version);
  const result = await withJobProgress(
    lab,
    `GPT Lab: importing ${path.basename(fromDir)} as "${version}"`,
    async () => {
      try {
        let corpusFiles: ImportModelParams['corpusFiles'];
        try {
          corpusFiles = (await collectWorkspaceCorpus()).files;
        } catch (err) {
          log(`import: no workspace files to measure completions on (${(err as Error).message})`);
        }
        return await lab.worker.request('importModel', { fromDir, outDir, corpusFiles });
      } catch (err) {
        void showFailure(`import ${fromDir}`, err);
        return undefined;
      } finally {
        // A failed import leaves no half-made version behind (the folder did not exist before).
        if (!checkpointExists(outDir)) await fs.rm(outDir, { recursive: true, force: true }).catch(() => undefined);
      }
    },
  );
  await lab.refresh();
  if (!result) return undefined;
  log(`imported ${fromDir} (${result.kind}, step ${result.step}) as "${version}"`);
  if (args.use) await lab.useVersion(version);
  else void announceImport(lab, version, result);
  return { version, result };
}

async function announceImport(lab: Lab, version: string, r: ImportModelResult): Promise<void> {
  const c = r.config;
  const what = r.kind === 'gpt2' ? 'a GPT-2 checkpoint' : 'a GPT Lab export';
  const choice = await vscode.window.showInformationMessage(
    `Imported ${what} as "${version}" (${c.nLayer} layers × ${c.nEmbd}, ${c.nHead} heads, context ${c.contextLength}, step ${r.step}).`,
    'Use This Version',
  );
  if (choice === 'Use This Version') await lab.useVersion(version);
}
