import * as vscode from 'vscode';
import { RESTART_SETTINGS } from './config';
import { showModelInfo } from './commands/modelInfo';
import {
  addExample,
  exportExamplesCommand,
  importExamplesCommand,
  openExamplesFile,
  promoteCandidates,
  saveExample,
} from './commands/examples';
import { FinetuneArgs, finetuneOnExamples, showComparison } from './commands/finetune';
import { deleteVersion, renameVersion, rollBack, useVersion } from './commands/versions';
import { ExportArgs, exportForCluster, ImportArgs, importTrainedModel } from './commands/interop';
import { ExampleDrafts } from './exampleDrafts';
import { AlignArgs, alignCommand } from './commands/align';
import { ResumeAlignArgs, resumeAlignCommand } from './commands/alignResume';
import {
  deletePreferenceCommand,
  exportPreferencesCommand,
  importPreferencesCommand,
  openPreferences,
  RankArgs,
  rankCompletions,
} from './commands/rank';
import { AlignPanel } from './panels/alignPanel';
import { RankPanel } from './panels/rankPanel';
import { TrainArgs, trainOnWorkspace } from './commands/train';
import { Lab } from './lab';
import { disposeLog, log, showLog } from './log';
import { ModelViewProvider } from './modelView';
import { InspectorPanel, textToInspect } from './panels/inspectorPanel';
import { LossPanel } from './panels/lossPanel';
import { promptAt, StepperPanel } from './panels/stepperPanel';
import { createStatusBar } from './statusBar';
import { registerCompletions } from './completions/register';
import type { GptLabCompletionProvider } from './completions/provider';

let lab: Lab | undefined;

/** Activation only wires things up: state lives in Lab, behaviour in commands/ and panels/. */
export interface GptLabApi {
  lab: Lab;
  completions: GptLabCompletionProvider;
  /** "Export for a Cluster" and "Import a Trained Model" without their dialogs (tests, other extensions). */
  interop: { exportForCluster: typeof exportForCluster; importTrainedModel: typeof importTrainedModel };
}

export async function activate(context: vscode.ExtensionContext): Promise<GptLabApi> {
  try {
    const l = (lab = new Lab(context));
    const command = (id: string, f: (...args: never[]) => unknown) =>
      context.subscriptions.push(vscode.commands.registerCommand(id, f));
    context.subscriptions.push(
      l,
      createStatusBar(l),
      vscode.window.registerTreeDataProvider('gptLab.model', new ModelViewProvider(l)),
      vscode.window.registerWebviewPanelSerializer(LossPanel.viewType, {
        deserializeWebviewPanel: async (panel) => LossPanel.revive(panel, l),
      }),
      vscode.window.registerWebviewPanelSerializer(InspectorPanel.viewType, {
        deserializeWebviewPanel: (panel, state) => InspectorPanel.revive(panel, l, state),
      }),
      vscode.window.registerWebviewPanelSerializer(StepperPanel.viewType, {
        deserializeWebviewPanel: (panel, state) => StepperPanel.revive(panel, l, state),
      }),
      vscode.window.registerWebviewPanelSerializer(RankPanel.viewType, {
        deserializeWebviewPanel: async (panel, state) => RankPanel.revive(panel, l, state),
      }),
      vscode.window.registerWebviewPanelSerializer(AlignPanel.viewType, {
        deserializeWebviewPanel: (panel) => AlignPanel.revive(panel, l),
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (RESTART_SETTINGS.some((s) => e.affectsConfiguration(s))) {
          if (!l.training) l.worker.stop();
          l.inference.stop();
        }
      }),
      l.worker.onExit((e) => {
        if (!e.expected && !l.training) log('the worker exited while idle; a new one starts when needed');
      }),
    );
    const completions = registerCompletions(l);
    context.subscriptions.push(completions.disposable);
    command('gptLab.train', (args?: TrainArgs) => trainOnWorkspace(l, args));
    command('gptLab.resume', (args?: TrainArgs) => trainOnWorkspace(l, args, true));
    command('gptLab.stop', async () => {
      if (!(await l.stop())) void vscode.window.showInformationMessage('GPT Lab is not training.');
    });
    command('gptLab.showPanel', () => void LossPanel.createOrShow(l));
    const withEditorAndModel = (f: (editor: vscode.TextEditor) => unknown) => async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) return void vscode.window.showErrorMessage('Open a file and select some code first.');
      if (!l.info) {
        const choice = await vscode.window.showErrorMessage(
          'There is no model yet: train one on this workspace first.',
          'Train on Workspace',
        );
        if (choice) await vscode.commands.executeCommand('gptLab.train');
        return;
      }
      return f(editor);
    };
    command(
      'gptLab.inspectAttention',
      withEditorAndModel((editor) => InspectorPanel.show(l, textToInspect(editor))),
    );
    command(
      'gptLab.stepGeneration',
      withEditorAndModel((editor) => StepperPanel.show(l, promptAt(editor))),
    );
    command('gptLab.showModelInfo', () => showModelInfo(l));
    command('gptLab.deleteModel', () => deleteVersion(l, { version: l.versions.active }));
    // Model versions (palette: pick one; view: the item right-clicked).
    command('gptLab.useVersion', (arg?: unknown) => useVersion(l, arg));
    command('gptLab.renameVersion', (arg?: unknown, to?: string) => renameVersion(l, arg, to));
    command('gptLab.deleteVersion', (arg?: unknown, confirmed?: boolean) => deleteVersion(l, arg, confirmed === true));
    command('gptLab.rollBack', (arg?: unknown) => rollBack(l, arg));
    // Outgrow one machine: export for torchrun (scale/train_ddp.py), import what it trained.
    command('gptLab.exportForCluster', (args?: ExportArgs) => exportForCluster(l, args));
    command('gptLab.importModel', (args?: ImportArgs) => importTrainedModel(l, args));
    // SFT data and Stage 2.
    const drafts = new ExampleDrafts(l);
    context.subscriptions.push(
      drafts,
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (d.uri.fsPath === l.examplesFile || d.uri.fsPath === l.candidatesFile) void l.recountExamples();
      }),
    );
    command('gptLab.addExample', () => addExample(l, drafts));
    command('gptLab.saveExample', () => saveExample(drafts));
    command('gptLab.openExamples', () => openExamplesFile(l.examplesFile));
    command('gptLab.openCandidates', () => openExamplesFile(l.candidatesFile));
    command('gptLab.importExamples', (from?: vscode.Uri) => importExamplesCommand(l, from));
    command('gptLab.exportExamples', (to?: vscode.Uri) => exportExamplesCommand(l, to));
    command('gptLab.promoteCandidates', (args?: { all?: boolean }) => promoteCandidates(l, args));
    command('gptLab.finetune', (args?: FinetuneArgs) => finetuneOnExamples(l, args));
    command('gptLab.showComparison', (arg?: unknown) => showComparison(l, arg));
    // Stage 3: rankings, preference pairs, the trainers and the alignment panel.
    context.subscriptions.push(
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (d.uri.fsPath === l.preferences.file) void l.preferences.recount();
      }),
    );
    command('gptLab.rankCompletions', (args?: RankArgs) => rankCompletions(l, args));
    command('gptLab.openPreferences', () => openPreferences(l));
    command('gptLab.importPreferences', (from?: vscode.Uri) => importPreferencesCommand(l, from));
    command('gptLab.exportPreferences', (to?: vscode.Uri) => exportPreferencesCommand(l, to));
    command('gptLab.deletePreference', (arg?: unknown) => deletePreferenceCommand(l, arg));
    command('gptLab.trainRewardModel', (args?: AlignArgs) => alignCommand(l, 'reward', args));
    command('gptLab.alignDpo', (args?: AlignArgs) => alignCommand(l, 'dpo', args));
    command('gptLab.alignPpo', (args?: AlignArgs) => alignCommand(l, 'ppo', args));
    command('gptLab.resumeAlignment', (args?: ResumeAlignArgs) => resumeAlignCommand(l, args));
    command('gptLab.showAlignment', (arg?: { version?: string }) => AlignPanel.show(l, arg?.version));
    command('gptLab.refresh', () => l.refresh());
    command('gptLab.showLog', () => showLog());
    await l.refresh();
    return { lab: l, completions: completions.provider, interop: { exportForCluster, importTrainedModel } };
  } catch (err) {
    void vscode.window.showErrorMessage(`GPT Lab could not start: ${(err as Error).message}`);
    throw err;
  }
}

export function deactivate(): void {
  lab?.worker.stop();
  lab?.inference.stop();
  disposeLog();
}
