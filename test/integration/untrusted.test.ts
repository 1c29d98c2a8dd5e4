import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Lab } from '../../src/host/lab';

async function lab(): Promise<Lab> {
  const ext = vscode.extensions.getExtension<{ lab: Lab }>('gpt-lab.gpt-lab');
  assert.ok(ext, 'the extension is installed');
  return (await ext.activate()).lab;
}

const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8'));

/** Every command that reads the workspace's files into a training run in the worker. */
const TRAINING_COMMANDS = [
  'gptLab.train',
  'gptLab.resume',
  'gptLab.finetune',
  'gptLab.trainRewardModel',
  'gptLab.alignDpo',
  'gptLab.alignPpo',
  'gptLab.resumeAlignment',
];

/**
 * The manifest says GPT Lab works in Restricted Mode with limits: it trains only once the workspace is trusted,
 * and a workspace cannot choose the backend (which native code the worker loads). The code-server runner
 * trusts every workspace, so the test makes this one untrusted for the extension (vscode.workspace.isTrusted).
 */
describe('An untrusted workspace (Restricted Mode) gets what the manifest declares', function () {
  this.timeout(5 * 60_000);

  it('the manifest: limited support, training asks for trust, the backend setting is restricted', () => {
    const u = manifest.capabilities.untrustedWorkspaces;
    assert.equal(u.supported, 'limited');
    assert.match(u.description, /trusted workspace before training/);
    assert.deepEqual(u.restrictedConfigurations, ['gptLab.backend']);
    const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command);
    for (const id of TRAINING_COMMANDS) assert.ok(contributed.includes(id), `${id} is a contributed command`);
  });

  it('every training command is refused with a message asking for trust, and nothing runs', async () => {
    const l = await lab();
    const step = l.info?.step;
    const versions = l.versions.list.map((v) => v.name);
    const errors: string[] = [];
    const original = Object.getOwnPropertyDescriptor(vscode.workspace, 'isTrusted');
    const show = vscode.window.showErrorMessage;
    Object.defineProperty(vscode.workspace, 'isTrusted', { get: () => false, configurable: true });
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = (message: string) => {
      errors.push(message);
      return Promise.resolve(undefined);
    };
    try {
      assert.equal(vscode.workspace.isTrusted, false);
      for (const id of TRAINING_COMMANDS) {
        const before = errors.length;
        const r = await vscode.commands.executeCommand(id, { preset: 'tiny', steps: 3 });
        assert.equal(r, undefined, `${id} ran`);
        assert.equal(errors.length, before + 1, `${id}: one error message`);
        assert.match(errors.at(-1)!, /trains only in a trusted workspace.*Trust this workspace/, id);
        assert.equal(l.training, false, `${id} started a run`);
      }
    } finally {
      if (original) Object.defineProperty(vscode.workspace, 'isTrusted', original);
      else delete (vscode.workspace as { isTrusted?: boolean }).isTrusted;
      (vscode.window as { showErrorMessage: unknown }).showErrorMessage = show;
    }
    assert.equal(vscode.workspace.isTrusted, true, 'the workspace is trusted again for the suites after');
    assert.equal(l.info?.step, step, 'the model is untouched');
    assert.deepEqual(
      l.versions.list.map((v) => v.name),
      versions,
      'no version was made',
    );
  });
});
