import * as vscode from 'vscode';
import { progressText } from '../protocol/format';
import { compact } from './format';
import type { Lab } from './lab';

/** One item that tells the truth: training 43% · loss 2.31 · 1.2k tok/s, ready · val bpb 1.42, or no model. */
export function createStatusBar(lab: Lab): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('gptLab.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'GPT Lab';
  item.command = 'gptLab.showPanel';
  const render = () => {
    if (lab.training) {
      const p = lab.progress;
      const stopping = lab.state === 'stopping' ? ' · stopping' : '';
      item.text = p
        ? `$(sync~spin) GPT Lab: training ${progressText(p, { percent: true, lossDigits: 2, eta: false })}${stopping}`
        : `$(sync~spin) GPT Lab: preparing${stopping}`;
      item.tooltip = 'GPT Lab is training a model on this workspace. Click to show the training panel.';
    } else if (lab.info) {
      const bpb = lab.info.valBpb;
      item.text = `$(beaker) GPT Lab: model ready${bpb !== undefined ? ` · val bpb ${bpb.toFixed(2)}` : ''}`;
      item.tooltip = `${lab.info.preset ?? 'custom'} model, ${compact(lab.info.parameters)} parameters, step ${lab.info.step}. Click to show the training panel.`;
    } else {
      item.text = '$(beaker) GPT Lab: no model';
      item.tooltip = 'No model yet: run "GPT Lab: Train on Workspace".';
    }
    item.show();
  };
  render();
  return vscode.Disposable.from(item, lab.onDidChange(render));
}
