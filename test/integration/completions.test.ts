import { strict as assert } from 'node:assert';
import * as vscode from 'vscode';
import type { GptLabApi } from '../../src/host/extension';

async function api(): Promise<GptLabApi> {
  const ext = vscode.extensions.getExtension<GptLabApi>('gpt-lab.gpt-lab');
  assert.ok(ext);
  return ext.activate();
}

async function openScratch(name: string, text: string): Promise<vscode.TextDocument> {
  const folder = vscode.workspace.workspaceFolders![0].uri;
  const uri = vscode.Uri.joinPath(folder, 'src', name);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  return vscode.workspace.openTextDocument(uri);
}

const invoke: vscode.InlineCompletionContext = {
  triggerKind: vscode.InlineCompletionTriggerKind.Invoke,
  selectedCompletionInfo: undefined,
};

describe('Inline completions from the workspace model (real extension host)', function () {
  this.timeout(5 * 60_000);

  before(async () => {
    const { lab } = await api();
    // Other suites may leave a later version (dpo-1, ppo-1, …) active: these tests are about the pre-trained one.
    if (lab.versions.get('base')) await lab.useVersion('base');
    if (!lab.info || lab.info.step < 150) {
      const r = await vscode.commands.executeCommand('gptLab.train', { preset: 'tiny', steps: 150 });
      assert.ok(r, 'trained a model for the completion tests');
    }
  });

  it('suggests the repeated pattern of the repository at the cursor, as one trimmed line', async () => {
    const { completions } = await api();
    const doc = await openScratch('greet2.ts', 'export function greet2(): void {\n    console.\n}\n');
    const items = await completions.provideInlineCompletionItems(
      doc,
      new vscode.Position(1, 12),
      invoke,
      new vscode.CancellationTokenSource().token,
    );
    assert.equal(items.length, 1, 'one suggestion');
    const text = String(items[0].insertText);
    console.log(`suggestion: ${JSON.stringify(text)} in ${Math.round(completions.lastLatencyMs ?? -1)} ms`);
    assert.match(text, /^log\('hello/);
    assert.ok(!text.includes('\n'), 'single line');
  });

  it('is asked by the editor itself when inline suggestions are triggered', async () => {
    const { completions } = await api();
    const doc = await openScratch('greet4.ts', 'export function greet4(): void {\n    console.\n}\n');
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(1, 12, 1, 12);
    const before = completions.requests;
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    for (let i = 0; i < 50 && completions.requests === before; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(completions.requests > before, 'the editor called the provider');
  });

  it('offers nothing where the model has no model languages or completions are paused', async () => {
    const { completions } = await api();
    const doc = await openScratch('notes.rs', 'fn main() {\n    \n}\n');
    assert.equal(completions.enabledFor('rust'), false, 'rust is not in the training corpus');
    const none = await completions.provideInlineCompletionItems(
      doc,
      new vscode.Position(1, 4),
      invoke,
      new vscode.CancellationTokenSource().token,
    );
    assert.deepEqual(none, []);
    await vscode.commands.executeCommand('gptLab.toggleCompletions');
    try {
      assert.equal(completions.enabledFor('typescript'), false);
    } finally {
      await vscode.commands.executeCommand('gptLab.toggleCompletions');
    }
    assert.equal(completions.enabledFor('typescript'), true);
  });

  it('aborts a cancelled request in the worker, not only in the host', async () => {
    const { lab } = await api();
    // Inside the repeated loop of greet.ts the model would write line after line up to the token limit.
    const folder = vscode.workspace.workspaceFolders![0].uri;
    const greet = new TextDecoder().decode(
      await vscode.workspace.fs.readFile(vscode.Uri.joinPath(folder, 'src', 'greet.ts')),
    );
    const request = (prefix: string, token?: vscode.CancellationToken) =>
      lab.inference.request(
        'complete',
        { modelDir: lab.modelDir, prefix, suffix: '', maxTokens: 32, multiline: true },
        token,
      );
    // Where a weak model writes the longest text differs between architectures and runs: take the first cut
    // (after one of the loop's lines, or inside one) whose uncancelled completion runs for many tokens.
    const loop = greet.indexOf("console.log('hello");
    const cuts = [...greet.slice(loop, loop + 400).matchAll(/\n|'hello from/g)].map(
      (m) => loop + m.index + m[0].length,
    );
    let prefix = '';
    let full = { tokens: 0 };
    for (const cut of cuts) {
      const r = await request(greet.slice(0, cut));
      if (r.tokens > full.tokens) [prefix, full] = [greet.slice(0, cut), r];
      if (full.tokens >= 8) break;
    }
    assert.ok(full.tokens >= 8, `an uncancelled request generates many tokens (${full.tokens})`);
    const source = new vscode.CancellationTokenSource();
    const pending = request(prefix, source.token);
    source.cancel();
    const r = await pending;
    assert.equal(r.stopReason, 'cancelled', 'the worker stopped generating');
    assert.ok(r.tokens < full.tokens, `${r.tokens} tokens after the cancel, ${full.tokens} without`);
  });

  it('reuses the suggestion while the user types what it predicted', async () => {
    const { completions } = await api();
    const doc = await openScratch('greet3.ts', 'export function greet3(): void {\n    console.\n}\n');
    const token = new vscode.CancellationTokenSource().token;
    const first = String(
      (await completions.provideInlineCompletionItems(doc, new vscode.Position(1, 12), invoke, token))[0].insertText,
    );
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(1, 12), first.slice(0, 3));
    await vscode.workspace.applyEdit(edit);
    const { lab } = await api();
    const request = lab.inference.request.bind(lab.inference);
    let requests = 0;
    lab.inference.request = ((...args: Parameters<typeof request>) => {
      requests++;
      return request(...args);
    }) as typeof request;
    try {
      const second = await completions.provideInlineCompletionItems(doc, new vscode.Position(1, 15), invoke, token);
      assert.equal(String(second[0].insertText), first.slice(3));
      assert.equal(requests, 0, 'served from the cache, without asking the worker');
    } finally {
      lab.inference.request = request;
    }
  });
});
