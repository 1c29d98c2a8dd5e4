import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { acquireFolderLock } from '../../src/core/checkpoint/lock';
import { readExamples, SftExample } from '../../src/core/data/examples';
import { readComparison } from '../../src/core/train/finetune';
import type { FinetuneRun } from '../../src/host/commands/finetune';
import type { GptLabApi } from '../../src/host/extension';
import type { Lab } from '../../src/host/lab';

async function api(): Promise<GptLabApi> {
  const ext = vscode.extensions.getExtension<GptLabApi>('gpt-lab.gpt-lab');
  assert.ok(ext);
  return ext.activate();
}

async function openScratch(name: string, text: string): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders![0].uri;
  const uri = vscode.Uri.joinPath(folder, 'src', name);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  return vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The raw greedy completion the active version writes after `prefix`. */
async function complete(lab: Lab, prefix: string): Promise<string> {
  const r = await lab.inference.request('complete', {
    modelDir: lab.modelDir,
    prefix,
    suffix: '',
    maxTokens: 32,
    multiline: false,
  });
  return r.text;
}

/**
 * A distinctive answer to one prompt, which the pre-trained model cannot write by chance. The prompt ends a line:
 * a cursor after a space or inside a word is served with token healing, while an SFT example trains the
 * boundary where its prompt ends.
 */
const PROMPT = '// say the magic word\n';
const ANSWER = "export const word = 'xyzzy';\n";
const TAUGHT = "export const word = 'xyzzy'";

describe('Stage 2 in the extension: versions, examples, fine-tuning (real extension host)', function () {
  this.timeout(5 * 60_000);

  before(async () => {
    const { lab } = await api();
    // Other suites may leave their versions (dpo-1, …) active: these tests start from the pre-trained base.
    if (lab.versions.get('base')) await lab.useVersion('base');
    if (!lab.info || lab.info.step < 150) {
      const r = await vscode.commands.executeCommand('gptLab.train', { preset: 'tiny', steps: 150 });
      assert.ok(r, 'trained a model for the SFT tests');
    }
    await fs.rm(lab.examplesFile, { force: true });
    await fs.rm(lab.candidatesFile, { force: true });
    await lab.refresh();
  });

  it('keeps the pre-training model as the version "base", and moves an old single-folder model there', async () => {
    const { lab } = await api();
    const base = path.join(lab.versions.root, 'base');
    assert.equal(lab.modelDir, base);
    const step = lab.info!.step;
    // The layout before versions: <storage>/model.
    await fs.rename(base, lab.versions.legacyDir);
    // While another process holds its lock, it is read where it is…
    const held = acquireFolderLock(lab.versions.legacyDir, { purpose: 'an older GPT Lab training' });
    try {
      await lab.refresh();
      assert.equal(lab.versions.active, 'base');
      assert.equal(lab.modelDir, lab.versions.legacyDir, 'read in place');
      assert.equal(lab.info?.step, step);
    } finally {
      held.release();
    }
    // …and once it is free, it moves into models/base.
    await lab.refresh();
    assert.equal(lab.modelDir, base);
    assert.ok(!existsSync(lab.versions.legacyDir), 'the old folder is gone');
    assert.equal(lab.info?.step, step);
    assert.equal(lab.versions.get('base')?.stage, 'pretrain');
  });

  it('Add Example: the selected comment is the prompt, the tab holds the completion, closing saves the line', async () => {
    const { lab } = await api();
    const editor = await openScratch('add.ts', '// add two numbers\nconst x = 1;\n');
    editor.selection = new vscode.Selection(0, 0, 0, '// add two numbers'.length);
    const draft = await vscode.commands.executeCommand<vscode.TextEditor>('gptLab.addExample');
    assert.ok(draft, 'a tab opened for the completion');
    assert.equal(draft.document.getText(), '// add two numbers\n', 'it starts with the prompt');
    const completion = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';
    await draft.edit((e) => e.insert(draft.document.positionAt(draft.document.getText().length), completion));
    await vscode.window.showTextDocument(draft.document);
    const saved = await vscode.commands.executeCommand<SftExample>('gptLab.saveExample');
    assert.equal(saved?.completion, completion);
    const { records, problems } = await readExamples(lab.examplesFile);
    assert.deepEqual(problems, []);
    assert.equal(records.length, 1);
    assert.deepEqual(
      { prompt: records[0].prompt, completion: records[0].completion, source: records[0].source },
      { prompt: '// add two numbers\n', completion, source: 'manual' },
    );
    assert.equal(lab.exampleCounts.examples, 1);
    assert.ok(
      !vscode.window.tabGroups.all.some((g) =>
        g.tabs.some((t) => t.label === path.basename(draft.document.uri.fsPath)),
      ),
    );

    // No selection: the comment on the cursor's line; closing the tab saves; an empty completion saves nothing.
    const e2 = await openScratch('add2.ts', 'const y = 2;\n// multiply two numbers\n');
    e2.selection = new vscode.Selection(1, 3, 1, 3);
    const d2 = await vscode.commands.executeCommand<vscode.TextEditor>('gptLab.addExample');
    assert.equal(d2.document.getText(), '// multiply two numbers\n');
    await d2.edit((e) =>
      e.insert(d2.document.positionAt(d2.document.getText().length), 'const mul = (a, b) => a * b;\n'),
    );
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await until(
      'the closed tab to be saved as an example',
      async () => (await readExamples(lab.examplesFile)).records.length === 2,
    );
    const d3 = await vscode.commands.executeCommand<vscode.TextEditor>('gptLab.addExample');
    assert.ok(d3);
    assert.equal(await vscode.commands.executeCommand('gptLab.saveExample'), undefined, 'left empty: not saved');
    assert.equal((await readExamples(lab.examplesFile)).records.length, 2);
    await fs.rm(lab.examplesFile, { force: true });
    await lab.recountExamples();
  });

  it('turns a suggestion the user types through into a candidate with the text before and after the cursor', async () => {
    const { lab, completions } = await api();
    // The model here is whatever tiny one the suites before left (a few hundred steps): whether it has a
    // suggestion after one given line is up to its weights, so the test takes the first of a few lines of the
    // fixture's kind where it does. What is tested is what becomes of a suggestion, not the model.
    const lines = ['console.', 'console.log(', 'const ', 'return '];
    let found: { editor: vscode.TextEditor; line: string; text: string } | undefined;
    for (const [i, line] of lines.entries()) {
      const editor = await openScratch(`cand${i}.ts`, `export function greet9(): void {\n    ${line}\n}\n`);
      const items = await completions.provideInlineCompletionItems(
        editor.document,
        new vscode.Position(1, 4 + line.length),
        { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined },
        new vscode.CancellationTokenSource().token,
      );
      assert.ok(items.length <= 1);
      if (items.length === 1 && String(items[0].insertText).length >= 2) {
        found = { editor, line, text: String(items[0].insertText) };
        break;
      }
    }
    assert.ok(found, `the model has no suggestion after any of: ${lines.join(' | ')}`);
    const { editor, line, text } = found;
    const doc = editor.document;
    const pos = new vscode.Position(1, 4 + line.length);
    // Typed in two keystrokes rather than taken with Tab.
    const at = doc.offsetAt(pos);
    await editor.edit((e) => e.insert(doc.positionAt(at), text.slice(0, 2)));
    await editor.edit((e) => e.insert(doc.positionAt(at + 2), text.slice(2)));
    await until('a candidate', async () => (await readExamples(lab.candidatesFile)).records.length === 1);
    const [c] = (await readExamples(lab.candidatesFile)).records;
    assert.equal(c.prompt, `export function greet9(): void {\n    ${line}`);
    assert.equal(c.completion, text);
    assert.equal(c.suffix, '\n}\n');
    assert.equal(c.source, 'accepted');
    await until('the view count', () => lab.exampleCounts.candidates === 1);
    assert.equal(await vscode.commands.executeCommand('gptLab.promoteCandidates', { all: true }), 1);
    assert.equal((await readExamples(lab.examplesFile)).records.length, 1);
    assert.equal((await readExamples(lab.candidatesFile)).records.length, 0);
    await fs.rm(lab.examplesFile, { force: true });
  });

  let run: FinetuneRun | undefined;

  it('fine-tunes the active version into sft-1, which then serves completions', async () => {
    const { lab } = await api();
    const before = await complete(lab, PROMPT);
    const lines = Array.from({ length: 6 }, () => JSON.stringify({ prompt: PROMPT, completion: ANSWER }));
    const file = path.join(path.dirname(lab.examplesFile), 'import.jsonl');
    await fs.writeFile(file, [...lines, '{"prompt": "no completion"}', 'not json'].join('\n') + '\n');
    assert.equal(await vscode.commands.executeCommand('gptLab.importExamples', vscode.Uri.file(file)), 6);
    assert.equal(lab.exampleCounts.examples, 6);

    run = await vscode.commands.executeCommand<FinetuneRun>('gptLab.finetune', {
      steps: 80,
      learningRate: 1e-2,
      mixShare: 0.1,
      showComparison: false,
    });
    assert.ok(run, 'fine-tuning returned a result');
    assert.equal(run.version, 'sft-1');
    assert.equal(run.result.stopped, 'budget');
    assert.ok(run.result.comparison, 'with a before/after table');
    assert.equal(lab.versions.active, 'sft-1');
    assert.equal(lab.modelDir, path.join(lab.versions.root, 'sft-1'));
    const v = lab.versions.get('sft-1')!;
    assert.equal(v.stage, 'sft');
    assert.equal(v.parent, 'base');
    assert.equal(typeof v.metrics.tokenAccuracy, 'number');
    assert.ok(await readComparison(v.dir), 'sft-compare.json saved');
    assert.equal(lab.training, false);

    const after = await complete(lab, PROMPT);
    console.log(`before: ${JSON.stringify(before)}, after: ${JSON.stringify(after)}`);
    assert.ok(
      after.startsWith(TAUGHT),
      `sft-1 writes the taught answer: ${JSON.stringify(after)}; ${JSON.stringify(run.result.comparison)}`,
    );
    assert.ok(!before.startsWith(TAUGHT));
  });

  it('switching versions changes what completions return; roll back, rename and delete', async () => {
    const { lab } = await api();
    assert.ok(run);
    assert.equal(await vscode.commands.executeCommand('gptLab.useVersion', 'base'), 'base');
    assert.equal(lab.modelDir, path.join(lab.versions.root, 'base'));
    assert.ok(!(await complete(lab, PROMPT)).startsWith(TAUGHT), 'base does not know the answer');
    assert.equal(await vscode.commands.executeCommand('gptLab.useVersion', { version: 'sft-1' }), 'sft-1');
    assert.ok((await complete(lab, PROMPT)).startsWith(TAUGHT), 'sft-1 does');

    assert.equal(await vscode.commands.executeCommand('gptLab.rollBack'), 'base');
    assert.equal(lab.versions.active, 'base');
    await vscode.commands.executeCommand('gptLab.useVersion', 'sft-1');

    assert.equal(await vscode.commands.executeCommand('gptLab.renameVersion', 'sft-1', '../x'), undefined, 'refused');
    assert.equal(await vscode.commands.executeCommand('gptLab.renameVersion', 'sft-1', 'magic'), 'magic');
    assert.equal(lab.versions.active, 'magic', 'the active choice follows the rename');
    assert.equal(lab.versions.parentOf(lab.versions.get('magic')!)?.name, 'base');
    assert.ok((await complete(lab, PROMPT)).startsWith(TAUGHT), 'the renamed version still serves');

    assert.equal(await vscode.commands.executeCommand('gptLab.deleteVersion', 'magic', true), true);
    assert.equal(lab.versions.get('magic'), undefined);
    assert.ok(!existsSync(path.join(lab.versions.root, 'magic')), 'its folder is gone');
    assert.equal(lab.versions.active, 'base', 'its parent serves completions again');
    assert.ok(lab.info);
    await fs.rm(lab.examplesFile, { force: true });
    await lab.recountExamples();
  });
});
