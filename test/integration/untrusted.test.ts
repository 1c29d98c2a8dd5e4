import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GptLabApi } from '../../src/host/extension';

async function api(): Promise<GptLabApi> {
  const ext = vscode.extensions.getExtension<GptLabApi>('gpt-lab.gpt-lab');
  assert.ok(ext, 'the extension is installed');
  return ext.activate();
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

  it('every training command is refused with a message asking for trust, and nothing runs; completions still come', async () => {
    const { lab: l, completions } = await api();
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
      // The model the user has keeps serving completions (the model is theirs, not the workspace's).
      if (l.info) {
        const asked: string[] = [];
        const request = l.inference.request.bind(l.inference);
        l.inference.request = ((...args: Parameters<typeof request>) => {
          asked.push(args[0]);
          return request(...args);
        }) as typeof request;
        const folder = vscode.workspace.workspaceFolders![0].uri;
        const uri = vscode.Uri.joinPath(folder, 'src', 'untrusted-scratch.ts');
        await vscode.workspace.fs.writeFile(
          uri,
          new TextEncoder().encode('export function f(): void {\n    console.\n}\n'),
        );
        try {
          const doc = await vscode.workspace.openTextDocument(uri);
          await completions.provideInlineCompletionItems(
            doc,
            new vscode.Position(1, 12),
            { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined },
            new vscode.CancellationTokenSource().token,
          );
        } finally {
          l.inference.request = request;
          await vscode.workspace.fs.delete(uri);
        }
        assert.ok(asked.includes('complete'), `no completion was asked of the worker: ${asked}`);
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
