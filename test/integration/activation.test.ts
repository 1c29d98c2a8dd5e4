// The extension is installed in the extension host, activates, and registers its commands.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'gpt-lab.gpt-lab';
const COMMANDS = [
  'gptLab.train',
  'gptLab.stop',
  'gptLab.resume',
  'gptLab.showPanel',
  'gptLab.showModelInfo',
  'gptLab.deleteModel',
];

describe('activation', () => {
  it('finds the extension, activates it and registers every command', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not installed in the extension host`);
    await ext.activate();
    assert.equal(ext.isActive, true);

    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = COMMANDS.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], `commands not registered: ${missing.join(', ')}`);
  });

  it('runs in a workspace with the fixture folder open', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1);
    assert.ok(vscode.workspace.getConfiguration('gptLab').has('preset'), 'the gptLab.* settings are contributed');
  });
});
