import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, loadCheckpoint } from '../../../src/core/checkpoint';
import { readCorpus } from '../../../src/core/corpus';
import { exportModel, hfConfig, importModel, MODERN_MODEL_TYPE, readFloatSafetensors } from '../../../src/core/interop';
import type { GPTConfig } from '../../../src/core/model/config';
import { loadModel } from '../../../src/core/model/persist';
import { runCli } from '../cli/run';
import { TINY, useWasm } from '../helpers/tf';
import { corpusFolder, makeModelFolder, tmp } from './support';

const isBadImport = (re: RegExp) => (e: Error & { code?: string }) => {
  assert.equal(e.code, 'BAD_IMPORT', e.message);
  assert.match(e.message, re);
  return true;
};

describe('interop: export and import (no Python)', function () {
  this.timeout(120000);
  let model: string;
  let exported: string;

  before(async () => {
    await useWasm();
    model = path.join(await tmp(), 'base');
    await makeModelFolder(model, { ...TINY, vocabSize: 300 }, { corpusRoot: await corpusFolder() });
    exported = path.join(await tmp(), 'export');
    await exportModel({ modelDir: model, outDir: exported });
  });

  it('writes Hugging Face GPT-2 names and config, the tokenizer and the corpus as uint16 .bin files', async () => {
    const names = (await fs.readdir(exported)).sort();
    assert.deepEqual(names, [
      'config.json',
      'merges.txt',
      'meta.json',
      'model.safetensors',
      'tokenizer.json',
      'train.bin',
      'val.bin',
      'vocab.json',
    ]);
    const tensors = decodeSafetensors(await fs.readFile(path.join(exported, 'model.safetensors')), 'x').tensors;
    assert.ok(tensors.has('transformer.h.0.attn.c_attn.weight'));
    assert.deepEqual(tensors.get('transformer.h.1.mlp.c_fc.weight')!.shape, [16, 64]); // Conv1D [in, out]
    assert.ok(!tensors.has('lm_head.weight')); // tied: GPT2LMHeadModel.save_pretrained leaves it out
    const cfg = JSON.parse(await fs.readFile(path.join(exported, 'config.json'), 'utf8'));
    assert.equal(cfg.model_type, 'gpt2');
    assert.equal(cfg.activation_function, 'gelu_new');
    assert.deepEqual([cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.n_positions], [2, 2, 16, 16]);
    assert.equal(cfg.gpt_lab.hf_compatible, true);
    const meta = JSON.parse(await fs.readFile(path.join(exported, 'meta.json'), 'utf8'));
    assert.equal(meta.dtype, 'uint16');
    const train = await fs.readFile(path.join(exported, 'train.bin'));
    assert.equal(train.length, meta.train_tokens * 2);
    const ids = new Uint16Array(train.buffer, train.byteOffset, train.length / 2);
    assert.ok(ids.every((id) => id < cfg.vocab_size));
    assert.ok(ids.includes(meta.eot_token));
  });

  it('tokenizes files already read (the extension passes the workspace files) exactly as it reads the folder', async () => {
    const root = await corpusFolder();
    const { files } = await readCorpus(root);
    const given = path.join(await tmp(), 'given');
    const r = await exportModel({ modelDir: model, outDir: given, corpusFiles: files, corpusRoot: '/the/workspace' });
    assert.ok(r.corpus);
    const fromFolder = path.join(await tmp(), 'from-folder');
    await exportModel({ modelDir: model, outDir: fromFolder, corpusDir: root });
    for (const f of ['train.bin', 'val.bin']) {
      assert.deepEqual(await fs.readFile(path.join(given, f)), await fs.readFile(path.join(fromFolder, f)), f);
    }
    const meta = JSON.parse(await fs.readFile(path.join(given, 'meta.json'), 'utf8'));
    assert.equal(meta.corpus_root, '/the/workspace');
  });

  it('imports its own export back to the same weights, tokenizer and a recorded lineage', async () => {
    const out = path.join(path.dirname(model), 'imported'); // beside its source: that is its parent version
    const r = await importModel({ fromDir: exported, outDir: out });
    assert.equal(r.kind, 'gpt-lab-export');
    const a = await loadCheckpoint(model);
    const b = await loadCheckpoint(out);
    for (const [name, t] of a.weights) assert.deepEqual(b.weights.get(name)!.data, t.data, name);
    assert.deepEqual(b.tokenizer, a.tokenizer);
    const lineage = b.config.lineage as { stage: string; parent: { dir: string }; data: { exportedFrom: string } };
    assert.equal(lineage.stage, 'import');
    assert.equal(lineage.parent.dir, model);
    assert.equal(lineage.data.exportedFrom, model);
    assert.deepEqual(b.config.corpus, a.config.corpus); // so `gpt-lab eval` finds the held-out files
    const elsewhere = await loadCheckpoint(
      (await importModel({ fromDir: exported, outDir: path.join(await tmp(), 'other') })).outDir,
    );
    assert.equal((elsewhere.config.lineage as { parent?: unknown }).parent, undefined);
    const loaded = await loadModel(out);
    loaded.model.dispose();
  });

  it('exports sinusoidal positions as the wpe table and imports them back as sinusoidal', async () => {
    const dir = path.join(await tmp(), 'sin');
    await makeModelFolder(dir, { ...TINY, positionEncoding: 'sinusoidal' });
    const exp = path.join(await tmp(), 'exp');
    await exportModel({ modelDir: dir, outDir: exp, corpus: false });
    const tensors = readFloatSafetensors(await fs.readFile(path.join(exp, 'model.safetensors')), 'm');
    const wpe = tensors.get('transformer.wpe.weight')!;
    assert.deepEqual(wpe.shape, [16, 16]);
    assert.equal(wpe.data[1], 1); // cos(0)
    const r = await importModel({ fromDir: exp, outDir: path.join(await tmp(), 'back') });
    assert.equal(r.config.positionEncoding, 'sinusoidal');
  });

  it('takes its export back after Hugging Face saved it (the tied head and the attention masks written out)', async () => {
    const dir = await copyExport(exported);
    await editWeights(dir, (t) => {
      const wte = t.get('transformer.wte.weight')!;
      t.set('lm_head.weight', { dtype: 'F32', shape: wte.shape, data: wte.data.slice() as Float32Array });
      t.set('transformer.h.0.attn.bias', { dtype: 'F32', shape: [1, 1, 16, 16], data: new Float32Array(256) });
    });
    const r = await importModel({ fromDir: dir, outDir: path.join(await tmp(), 'x') });
    assert.equal(r.kind, 'gpt-lab-export');
    await editWeights(dir, (t) => (t.get('lm_head.weight')!.data[0] += 1));
    await assert.rejects(
      importModel({ fromDir: dir, outDir: path.join(await tmp(), 'y') }),
      isBadImport(/tensor 'lm_head\.weight'/),
    );
  });

  it('takes its export back without the gpt_lab section (another tool re-saved config.json): same ids and weights', async () => {
    const dir = await copyExport(exported);
    await editConfig(dir, (c) => delete c.gpt_lab);
    const out = path.join(await tmp(), 'x');
    const r = await importModel({ fromDir: dir, outDir: out });
    assert.equal(r.kind, 'gpt2');
    const a = await loadCheckpoint(model);
    const b = await loadCheckpoint(out);
    assert.deepEqual(b.tokenizer, a.tokenizer);
    for (const [name, t] of a.weights) assert.deepEqual(b.weights.get(name)!.data, t.data, name);
    // Only vocab.json + merges.txt (GPT-2's format, GPT Lab's ids): the FIM specials keep their rows too.
    await fs.rm(path.join(dir, 'tokenizer.json'));
    const g = await importModel({ fromDir: dir, outDir: path.join(await tmp(), 'y') });
    assert.deepEqual([...g.toGpt2!.subarray(256, 260)], [256, 257, 258, 259]);
  });

  it("gives any recipe option its own model_type (not GPT-2's), keeping 'gpt2' and GPT2LMHeadModel without one", () => {
    const of = (extra: Partial<GPTConfig>) => hfConfig({ ...TINY, ...extra }, {});
    for (const extra of [{}, { positionEncoding: 'sinusoidal' as const }, { untiedHead: true }]) {
      const c = of(extra);
      assert.equal(c.model_type, 'gpt2', JSON.stringify(extra));
      assert.deepEqual(c.architectures, ['GPT2LMHeadModel'], JSON.stringify(extra));
    }
    for (const extra of [{ qkNorm: true }, { positionEncoding: 'rotary' as const }, { bias: false }]) {
      const c = of(extra);
      assert.equal(c.model_type, MODERN_MODEL_TYPE, JSON.stringify(extra));
      assert.equal(c.architectures, undefined, JSON.stringify(extra));
      assert.equal((c.gpt_lab as { hf_compatible: boolean }).hf_compatible, false);
    }
  });

  it("imports a modern export, and one written when it still said model_type 'gpt2'; refuses one stripped of gpt_lab", async () => {
    const dir = path.join(await tmp(), 'modern');
    await makeModelFolder(dir, { ...TINY, qkNorm: true, mlp: 'relu2', bias: false });
    const exp = path.join(await tmp(), 'exp');
    await exportModel({ modelDir: dir, outDir: exp, corpus: false });
    const a = await loadCheckpoint(dir);
    const back = async (from: string) =>
      loadCheckpoint((await importModel({ fromDir: from, outDir: path.join(await tmp(), 'v') })).outDir);
    const b = await back(exp);
    for (const [name, t] of a.weights) assert.deepEqual(b.weights.get(name)!.data, t.data, name);
    const old = await copyExport(exp);
    await editConfig(old, (c) => (c.model_type = 'gpt2'));
    assert.equal(((await back(old)).config.model as GPTConfig).qkNorm, true);
    const stripped = await copyExport(exp);
    await editConfig(stripped, (c) => delete c.gpt_lab);
    await assert.rejects(
      importModel({ fromDir: stripped, outDir: path.join(await tmp(), 'x') }),
      isBadImport(/model_type 'gpt_lab_modern' is GPT Lab's modern architecture.*`gpt_lab` section .* missing/),
    );
  });

  it('refuses a truncated model.safetensors', async () => {
    const dir = await copyExport(exported);
    const file = path.join(dir, 'model.safetensors');
    const bytes = await fs.readFile(file);
    await fs.writeFile(file, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(
      importModel({ fromDir: dir, outDir: path.join(await tmp(), 'x') }),
      isBadImport(/model\.safetensors .*truncated/),
    );
  });

  it('refuses a config that disagrees with the tensors, naming the tensor', async () => {
    const dir = await copyExport(exported);
    await editConfig(dir, (c) => {
      c.n_embd = 32;
      c.gpt_lab.model.nEmbd = 32;
    });
    await assert.rejects(
      importModel({ fromDir: dir, outDir: path.join(await tmp(), 'x') }),
      isBadImport(
        /tensor 'transformer\.wte\.weight' has shape \[\d+, 16\] but config\.json .*n_embd 32.* implies \[\d+, 32\]/,
      ),
    );
    const dir2 = await copyExport(exported);
    await editConfig(dir2, (c) => (c.n_layer = 3));
    await assert.rejects(
      importModel({ fromDir: dir2, outDir: path.join(await tmp(), 'x') }),
      isBadImport(/n_layer is 3 but gpt_lab\.model says 2/),
    );
  });

  it('refuses unknown and missing tensors by name', async () => {
    const dir = await copyExport(exported);
    await editWeights(dir, (t) => {
      t.set('transformer.h.7.attn.c_attn.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    });
    await assert.rejects(
      importModel({ fromDir: dir, outDir: path.join(await tmp(), 'x') }),
      isBadImport(/tensor 'transformer\.h\.7\.attn\.c_attn\.weight'.*no place for/),
    );
    const dir2 = await copyExport(exported);
    await editWeights(dir2, (t) => t.delete('transformer.h.1.ln_2.bias'));
    await assert.rejects(
      importModel({ fromDir: dir2, outDir: path.join(await tmp(), 'x') }),
      isBadImport(/no tensor 'transformer\.h\.1\.ln_2\.bias'/),
    );
    const dir3 = await copyExport(exported);
    await editWeights(dir3, (t) => (t.get('transformer.ln_f.weight')!.data[0] = NaN));
    await assert.rejects(
      importModel({ fromDir: dir3, outDir: path.join(await tmp(), 'x') }),
      isBadImport(/'transformer\.ln_f\.weight' holds NaN|ln_f\.weight.*NaN/),
    );
  });

  it('never writes into a folder that is not a model folder, and refuses to overwrite a model without --force', async () => {
    const mine = await tmp();
    await fs.writeFile(path.join(mine, 'notes.txt'), 'mine');
    const r = await runCli(['import', '--from', exported, '--out', mine, '--json']);
    assert.equal(r.code, 1);
    assert.equal(r.events.at(-1)!.code, 'OUT_NOT_MODEL_FOLDER');
    assert.deepEqual(await fs.readdir(mine), ['notes.txt']);
    const exp = await tmp();
    await fs.writeFile(path.join(exp, 'notes.txt'), 'mine');
    const e = await runCli(['export', '--model', model, '--out', exp, '--json']);
    assert.equal(e.events.at(-1)!.code, 'OUT_NOT_EXPORT_FOLDER');
    const out = path.join(await tmp(), 'v');
    assert.equal((await runCli(['import', '--from', exported, '--out', out])).code, 0);
    const again = await runCli(['import', '--from', exported, '--out', out, '--json']);
    assert.equal(again.events.at(-1)!.code, 'MODEL_EXISTS');
    assert.equal((await runCli(['import', '--from', exported, '--out', out, '--force'])).code, 0);
  });
});

async function copyExport(from: string): Promise<string> {
  const dir = await tmp('gpt-lab-interop-copy-');
  for (const n of await fs.readdir(from)) await fs.copyFile(path.join(from, n), path.join(dir, n));
  return dir;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function editConfig(dir: string, edit: (c: any) => void): Promise<void> {
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(await fs.readFile(file, 'utf8'));
  edit(c);
  await fs.writeFile(file, JSON.stringify(c));
}

async function editWeights(dir: string, edit: (t: ReturnType<typeof decodeSafetensors>['tensors']) => void) {
  const file = path.join(dir, 'model.safetensors');
  const { tensors } = decodeSafetensors(await fs.readFile(file), 'm');
  edit(tensors);
  await fs.writeFile(file, encodeSafetensors(tensors));
}
