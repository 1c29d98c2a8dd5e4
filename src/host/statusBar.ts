import * as vscode from 'vscode';
import { progressText } from '../protocol/format';
import { compact } from './format';
import type { Lab } from './lab';

/** What the status bar says about `lab` now (tests read it too). */
export function statusBarText(lab: Lab): { text: string; tooltip: string } {
  if (lab.training) {
    const p = lab.progress;
    const stopping = lab.state === 'stopping' ? ' · stopping' : '';
    return {
      text: p
        ? `$(sync~spin) GPT Lab: training ${progressText(p, { percent: true, lossDigits: 2, eta: false })}${stopping}`
        : `$(sync~spin) GPT Lab: preparing${stopping}`,
      tooltip: 'GPT Lab is training a model on this workspace. Click to show the training panel.',
    };
  }
  if (lab.info) {
    const bpb = lab.info.valBpb;
    return {
      text: `$(beaker) GPT Lab: model ready${bpb !== undefined ? ` · val bpb ${bpb.toFixed(2)}` : ''}`,
      tooltip: `${lab.info.preset ?? 'custom'} model, ${compact(lab.info.parameters)} parameters, step ${lab.info.step}. Click to show the training panel.`,
    };
  }
  return { text: '$(beaker) GPT Lab: no model', tooltip: 'No model yet: run "GPT Lab: Train on Workspace".' };
}

/** One item that tells the truth: training 43% · loss 2.31 · 1.2k tok/s, ready · val bpb 1.42, or no model. */
export function createStatusBar(lab: Lab): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('gptLab.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'GPT Lab';
  item.command = 'gptLab.showPanel';
  const render = () => {
    ({ text: item.text, tooltip: item.tooltip } = statusBarText(lab));
    item.show();
  };
  render();
  return vscode.Disposable.from(item, lab.onDidChange(render));
}
