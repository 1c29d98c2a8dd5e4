import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportRun } from '../../src/host/commands/interop';
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

/** What the inline completion provider suggests for a line of the repository's repeated pattern. */
async function suggestion(): Promise<string> {
  const { completions } = await api();
  const doc = await openScratch('interop.ts', 'export function greet3(): void {\n    console.\n}\n');
  const items = await completions.provideInlineCompletionItems(
    doc,
    new vscode.Position(1, 12),
    invoke,
    new vscode.CancellationTokenSource().token,
  );
  assert.equal(items.length, 1, 'one suggestion');
  return String(items[0].insertText);
}

describe('Export for a Cluster and Import a Trained Model (real extension host)', function () {
  this.timeout(5 * 60_000);
  let tmp: string;
  let source: string;
  let exported: ExportRun | undefined;
  let imported: string | undefined;

  before(async () => {
    const { lab } = await api();
    if (lab.versions.get('base')) await lab.useVersion('base');
    if (!lab.info || lab.info.step < 150) {
      const r = await vscode.commands.executeCommand('gptLab.train', { preset: 'tiny', steps: 150 });
      assert.ok(r, 'trained a model to export');
    }
    source = lab.versions.active;
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-interop-'));
  });

  after(async () => {
    const { lab } = await api();
    if (lab.versions.get(source)) await lab.useVersion(source);
    if (imported && lab.versions.get(imported)) {
      assert.equal(await vscode.commands.executeCommand('gptLab.deleteVersion', imported, true), true);
    }
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('exports the active version with the workspace files as train.bin/val.bin, and gives the torchrun line', async () => {
    const { lab, interop } = await api();
    const folder = path.join(tmp, 'export');
    exported = await interop.exportForCluster(lab, { version: lab.versions.active, folder });
    assert.ok(exported, 'exported');
    assert.equal(exported.version, source);
    assert.equal(exported.outDir, folder);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'train.bin', 'val.bin', 'meta.json']) {
      assert.ok(existsSync(path.join(folder, f)), `${f} written`);
    }
    const meta = JSON.parse(await fs.readFile(path.join(folder, 'meta.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(meta.corpus_root, vscode.workspace.workspaceFolders![0].uri.fsPath, 'the workspace is the corpus');
    assert.ok(Number(meta.train_tokens) > 0, 'training tokens');
    const cfg = JSON.parse(await fs.readFile(path.join(folder, 'config.json'), 'utf8')) as {
      model_type: string;
      architectures?: string[];
      gpt_lab: { step: number; model: { positionEncoding: string } };
    };
    // A preset trains the modern architecture: its own model_type, which transformers refuses (not GPT-2's).
    assert.equal(cfg.gpt_lab.model.positionEncoding, 'rotary', 'the modern architecture');
    assert.equal(cfg.model_type, 'gpt_lab_modern');
    assert.equal(cfg.architectures, undefined);
    assert.equal(cfg.gpt_lab.step, lab.info!.step);
    assert.match(exported.command, /^torchrun --standalone --nproc_per_node=\d+ \S*scale\/train_ddp\.py /);
    assert.ok(exported.command.includes(` --data ${folder} --out ${folder}-trained`), exported.command);
    // The trainer it names is there (the extension ships scale/).
    assert.ok(existsSync(exported.command.split(' ')[3]), 'train_ddp.py exists where the line says');
  });

  it('imports the export back as a new version that serves completions', async () => {
    const { lab, interop } = await api();
    assert.ok(exported, 'the export test ran');
    const before = await suggestion();
    assert.match(before, /^log\('hello/);

    const run = await interop.importTrainedModel(lab, { from: exported.outDir, use: true });
    assert.ok(run, 'imported');
    imported = run.version;
    assert.match(run.version, /^imported-\d+$/, 'named imported-N by default');
    assert.equal(run.result.kind, 'gpt-lab-export');
    const v = lab.versions.get(run.version);
    assert.ok(v, 'listed among the versions');
    assert.equal(v.dir, path.join(lab.versions.root, run.version));
    assert.equal(v.stage, 'import');
    assert.equal(v.parent, source, 'exported from a version beside it: that is its parent');
    assert.equal(lab.versions.active, run.version, 'it serves completions');
    assert.equal(lab.info?.step, exported.result.step);

    // Its completions were measured on held-out files at import, so it serves them in its better prompt format.
    const after = await suggestion();
    console.log(`suggestion: ${JSON.stringify(before)} from ${source}, ${JSON.stringify(after)} from ${run.version}`);
    // Same weights: in the same prompt mode the imported version writes what its source wrote. (Which mode a
    // version serves in is chosen by measuring it at import; a weak model's two modes can disagree.)
    const prompt = { prefix: 'export function greet3(): void {\n    console.', suffix: '\n}\n', maxTokens: 16 };
    const ask = (modelDir: string) => lab.inference.request('complete', { modelDir, ...prompt, multiline: false });
    const [fromSource, fromImport] = [await ask(lab.versions.get(source)!.dir), await ask(v.dir)];
    assert.equal(after.trim() === '', false, 'the imported version suggests something');
    if (fromSource.fim === fromImport.fim) assert.equal(fromImport.text, fromSource.text);
    else assert.ok(after.length > 0);
    assert.ok(existsSync(path.join(v.dir, 'completion-eval.json')), 'completions measured');
  });

  it('refuses a folder that is not an export (BAD_IMPORT) and leaves no version behind', async () => {
    const { lab, interop } = await api();
    const empty = path.join(tmp, 'not-an-export');
    await fs.mkdir(empty);
    await fs.writeFile(path.join(empty, 'config.json'), '{"model_type": "gpt2"}\n');
    const active = lab.versions.active;
    const run = await interop.importTrainedModel(lab, { from: empty, name: 'bad-import' });
    assert.equal(run, undefined);
    assert.equal(lab.versions.get('bad-import'), undefined);
    assert.ok(!existsSync(path.join(lab.versions.root, 'bad-import')), 'no folder left');
    assert.equal(lab.versions.active, active);
    // A name already taken is refused before anything runs.
    assert.equal(await interop.importTrainedModel(lab, { from: exported!.outDir, name: source }), undefined);
  });
});
