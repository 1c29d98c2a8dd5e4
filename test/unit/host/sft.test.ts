import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { clearModelFolder, saveCheckpoint } from '../../../src/core/checkpoint';
import { SFT_COMPARE_FILE } from '../../../src/core/train/finetune';
import { readExamples } from '../../../src/core/data/examples';
import { CompletionFeedback, DocumentText } from '../../../src/host/completions/feedback';
import { completionInDraft, promptAtLine, promptFromSelection } from '../../../src/host/examplePrompt';
import { VersionStore } from '../../../src/host/versions';
import { comparisonMarkdown, versionSummary } from '../../../src/host/versionText';

const tmpDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-host-sft-'));

describe('Add Example: which text is the prompt', () => {
  it('takes the comment block around the cursor line', () => {
    const lines = ['const a = 1;', '// add two numbers', '// and return the sum', 'x'];
    assert.equal(promptAtLine(lines, 1), '// add two numbers\n// and return the sum\n');
    assert.equal(promptAtLine(lines, 2), '// add two numbers\n// and return the sum\n');
    assert.equal(promptAtLine(['# mean of a list'], 0), '# mean of a list\n');
  });

  it('else the function signature above the cursor, with the comments right above it', () => {
    const lines = ['import x;', '/** Sums. */', 'export function sum(xs: number[]): number {', '  let s = 0;', '  '];
    assert.equal(promptAtLine(lines, 4), '/** Sums. */\nexport function sum(xs: number[]): number {\n');
    assert.equal(promptAtLine(['def mean(xs):', '    '], 1), 'def mean(xs):\n');
    assert.equal(promptAtLine(['const a = 1;', 'a + 1;'], 1), undefined, 'nothing fits');
  });

  it('a selection that ends a line brings its line break; a draft holds what follows the prompt', () => {
    assert.equal(promptFromSelection('// add', true), '// add\n');
    assert.equal(promptFromSelection('function f(', false), 'function f(');
    assert.equal(completionInDraft('// add\nreturn a + b;\n', '// add\n'), 'return a + b;\n');
    assert.equal(completionInDraft('// add\r\nreturn 1;', '// add\n'), 'return 1;');
    assert.equal(completionInDraft('// changed\nx', '// add\n'), undefined);
  });
});

/** A document as the feedback sees it. */
function doc(uri: string, text: () => string): DocumentText {
  return { uri, textBetween: (a, b) => (a < 0 ? '' : text().slice(a, b)) };
}

describe('accepted completions become candidate examples', () => {
  it('Tab: the prompt and suffix the model saw go to candidates.jsonl; passed-over ones do not', async () => {
    const dir = await tmpDir();
    let candidates = 0;
    const fb = new CompletionFeedback(dir, () => candidates++);
    const base = { languageId: 'typescript', modelStep: 1, uri: 'file:///a.ts' };
    fb.shown({ ...base, prompt: 'let a = ', suffix: ';\n', completion: '1', offset: 8 });
    const shown = fb.shown({ ...base, prompt: 'console.', suffix: '\n}', completion: "log('hi')", offset: 8 });
    await fb.accepted(shown.id);
    const { records } = await readExamples(fb.candidatesFile);
    assert.deepEqual(
      records.map(({ time: _t, ...r }) => (void _t, r)),
      [{ prompt: 'console.', suffix: '\n}', completion: "log('hi')", source: 'accepted' }],
    );
    assert.equal(candidates, 1);
  });

  it('typing the suggestion through counts as accepted, also in several keystrokes', async () => {
    const dir = await tmpDir();
    const fb = new CompletionFeedback(dir);
    let text = 'x = con';
    const d = doc('file:///b.ts', () => text);
    fb.shown({ languageId: 'ts', modelStep: 1, uri: d.uri, prompt: text, suffix: '', completion: 'sole', offset: 7 });
    text = 'x = cons';
    await fb.documentChanged(d);
    // The editor asks again after a keystroke: the rest of the same suggestion keeps it pending.
    const again = fb.shown({
      languageId: 'ts',
      modelStep: 1,
      uri: d.uri,
      prompt: text,
      suffix: '',
      completion: 'ole',
      offset: 8,
    });
    assert.equal(again.completion, 'sole', 'still the one suggestion');
    assert.equal((await readExamples(fb.candidatesFile)).records.length, 0);
    text = 'x = console';
    await fb.documentChanged(d);
    const { records } = await readExamples(fb.candidatesFile);
    assert.equal(records.length, 1);
    assert.equal(records[0].prompt, 'x = con');
    assert.equal(records[0].completion, 'sole');
  });

  it('typing something else is no acceptance', async () => {
    const dir = await tmpDir();
    const fb = new CompletionFeedback(dir);
    let text = 'x = con';
    const d = doc('file:///c.ts', () => text);
    fb.shown({ languageId: 'ts', modelStep: 1, uri: d.uri, prompt: text, suffix: '', completion: 'sole', offset: 7 });
    text = 'x = const';
    await fb.documentChanged(d);
    await fb.settle();
    assert.equal(existsSync(fb.candidatesFile), false);
  });
});

class Memento implements Pick<vscode.Memento, 'get' | 'update'> {
  private readonly m = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.m.get(key) as T | undefined;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.m.set(key, value);
  }
}

async function fakeVersion(dir: string, lineage?: Record<string, unknown>): Promise<void> {
  await saveCheckpoint(dir, {
    config: { format: 'gpt-lab-model', ...(lineage ? { lineage } : {}) },
    tokenizer: {},
    weights: new Map(),
    step: 3,
  });
}

describe('model versions in the extension', () => {
  it('moves the old single-folder model into models/base; the active choice, renames and parents follow', async () => {
    const storage = await tmpDir();
    await fakeVersion(path.join(storage, 'model'));
    const store = new VersionStore(storage, new Memento() as unknown as vscode.Memento, () => undefined);
    await store.refresh();
    assert.ok(existsSync(path.join(storage, 'models', 'base', 'state.json')));
    assert.equal(store.active, 'base');
    assert.equal(store.pretrainTarget(), 'base');

    await fakeVersion(path.join(store.root, 'sft-1'), {
      stage: 'sft',
      parent: { name: 'base', dir: path.join(store.root, 'base'), step: 3 },
      metrics: { valLoss: 1, tokenAccuracy: 0.83 },
      date: '2026-12-02T01:40:00.000Z',
    });
    await store.refresh();
    await store.setActive('sft-1');
    assert.equal(store.activeDir, path.join(store.root, 'sft-1'));
    assert.equal(store.pretrainTarget(), 'base', 'Train on Workspace writes the pre-training parent');
    assert.match(
      versionSummary(store.get('sft-1')!, 'base'),
      /fine-tuned \(SFT\) · from base · .* · token accuracy 83%/,
    );

    await store.rename('base', 'pretrained');
    assert.equal(store.parentOf(store.get('sft-1')!)?.name, 'pretrained', 'the child finds its renamed parent');
    assert.equal(store.pretrainTarget(), 'pretrained');
    await assert.rejects(store.rename('sft-1', 'pretrained'), /already exists/);
    await assert.rejects(store.rename('sft-1', '../escape'), /cannot name a version/);
    await store.rename('sft-1', 'mine');
    assert.equal(store.active, 'mine', 'the active choice follows its rename');
  });

  it('Delete Version leaves no folder behind: the before/after table goes with the checkpoint', async () => {
    const dir = path.join(await tmpDir(), 'sft-1');
    await fakeVersion(dir, { stage: 'sft' });
    await fs.writeFile(path.join(dir, SFT_COMPARE_FILE), '{}');
    await clearModelFolder(dir);
    assert.deepEqual(await fs.readdir(dir), []);
  });

  it('writes the before/after table as Markdown, with cells that cannot break the table', () => {
    const md = comparisonMarkdown(
      {
        rows: [
          { prompt: '// a | b\n', expected: 'x`y`\n', parent: '', child: 'x`y`', parentExact: false, childExact: true },
        ],
        parent: { exactMatch: 0, tokenAccuracy: 0.25 },
        child: { exactMatch: 1, tokenAccuracy: 1 },
      },
      { parent: 'base', child: 'sft-1' },
      true,
    );
    assert.match(md, /\| Exact match .* \| 0% \| 100% \|/);
    assert.match(md, /On 1 held-out example:/);
    assert.match(md, /<code>\/\/ a &#124; b⏎<\/code>/);
    assert.match(md, /✗ <em>\(nothing\)<\/em> \| ✓ <code>x&#96;y&#96;<\/code> \|/);
  });
});
