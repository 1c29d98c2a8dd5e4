import { strict as assert } from 'node:assert';
import * as vscode from 'vscode';
import type { GptLabApi } from '../../src/host/extension';
import type { InspectorPanel } from '../../src/host/panels/inspectorPanel';
import type { StepperPanel } from '../../src/host/panels/stepperPanel';

async function api(): Promise<GptLabApi> {
  const ext = vscode.extensions.getExtension<GptLabApi>('gpt-lab.gpt-lab');
  assert.ok(ext);
  return ext.activate();
}

describe('Look inside: attention inspector and generation stepper (real extension host)', function () {
  this.timeout(5 * 60_000);

  before(async () => {
    const { lab } = await api();
    if (!lab.info) assert.ok(await vscode.commands.executeCommand('gptLab.train', { preset: 'tiny', steps: 30 }));
  });

  it('inspects the attention of a selection from the trained model', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'src', 'index.ts'));
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(7, 0, 9, 1);
    const panel = await vscode.commands.executeCommand<InspectorPanel>('gptLab.inspectAttention');
    const a = panel.attention;
    assert.ok(a, 'attention arrived');
    const T = a.tokens.ids.length;
    const { lab } = await api();
    assert.equal(a.layers, lab.info!.layers);
    assert.equal(a.heads, lab.info!.heads);
    assert.equal(a.weights.length, a.layers * a.heads * T * T);
    const selected = doc.getText(editor.selection);
    assert.equal(
      a.tokens.offsets.map(([s, e]) => selected.slice(s, e)).join(''),
      selected.slice(a.tokens.offsets[0][0]),
    );
  });

  it("says which lines it shows when the selection is longer than the model's context", async () => {
    const { lab } = await api();
    const line = (i: number) => `export const value${i} = compute(${i}, "${'abcdefgh'.repeat(8)}", ${i * 31});`;
    const content = Array.from({ length: 5 }, (_, i) => line(i)).join('\n') + '\n';
    const doc = await vscode.workspace.openTextDocument({ content, language: 'typescript' });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(0, 0, 4, line(4).length);
    const panel = await vscode.commands.executeCommand<InspectorPanel>('gptLab.inspectAttention');
    const a = panel.attention!;
    assert.equal(a.tokens.ids.length, lab.info!.context);
    assert.ok(a.totalTokens > a.tokens.ids.length, `${a.totalTokens} tokens in five lines`);
    const src = panel.shownSource!;
    assert.match(src.label, /:1–5$/);
    const firstShown = doc.positionAt(doc.offsetAt(editor.selection.start) + a.tokens.offsets[0][0]).line;
    assert.ok(firstShown > 0, 'the start of the selection was cut');
    assert.match(src.shown ?? '', new RegExp(`:${firstShown + 1}–5$`));
  });

  it('steps through a generation: appending the top token extends the prompt by one', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'src', 'index.ts'));
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(8, 0, 8, 10);
    const panel = await vscode.commands.executeCommand<StepperPanel>('gptLab.stepGeneration');
    const first = panel.last;
    assert.ok(first, 'the first step arrived');
    assert.ok(first.candidates.length > 0 && first.lens.length === (await api()).lab.info!.layers);
    await panel.choose(first.candidates[0].token);
    const next = panel.last!;
    assert.equal(next.tokens.ids.length, first.tokens.ids.length + 1);
    assert.equal(next.tokens.ids[next.tokens.ids.length - 1], first.candidates[0].token);
  });
});
