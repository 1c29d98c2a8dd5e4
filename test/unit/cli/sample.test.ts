import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { readPrompt } from '../../../src/cli/sample';
import { loadCheckpoint, saveCheckpoint } from '../../../src/core/checkpoint';
import { defaultTrainConfig } from '../../../src/core/train/config';
import { pretrain } from '../../../src/core/train/trainer';
import { codeFiles, useWasm } from '../helpers/tf';
import { corpusDir, runCli, tmpDir } from './run';

/** A copy of the model folder whose weights `edit` changes, saved as a valid checkpoint. */
async function withWeights(src: string, edit: (name: string, data: Float32Array) => void): Promise<string> {
  const dir = path.join(await tmpDir(), 'm');
  const ckpt = await loadCheckpoint(src);
  for (const [name, t] of ckpt.weights) edit(name, t.data as Float32Array);
  await saveCheckpoint(dir, { ...ckpt, trainer: ckpt.trainer });
  return dir;
}

describe('gpt-lab sample and eval', function () {
  this.timeout(120_000);
  let model: string;
  let corpus: string;
  const backend = ['--backend', 'wasm'];
  before(async () => {
    await useWasm();
    corpus = await corpusDir();
    model = path.join(await tmpDir(), 'model');
    const config = defaultTrainConfig('tiny', {
      model: { vocabSize: 300, contextLength: 32, nEmbd: 32, nLayer: 1, nHead: 2, positionEncoding: 'learned' },
      batchSize: 2,
      maxMinutes: undefined,
      maxSteps: 2,
    });
    await pretrain({ files: codeFiles(4), config, outDir: model, corpusSummary: { root: corpus } });
  });

  for (const [flag, value] of [
    ['--max-tokens', '0'],
    ['--max-tokens', '1000000'],
    ['--max-tokens', '2.5'],
    ['--temperature', '-1'],
    ['--top-p', '2'],
    ['--top-p', '0'],
    ['--top-k', '0'],
    ['--seed', '-3'],
  ]) {
    it(`refuses ${flag} ${value}`, async () => {
      const r = await runCli(['sample', '--model', model, flag, value, ...backend, '--json']);
      assert.equal(r.code, 1);
      assert.equal(r.events.at(-1)?.code, 'BAD_OPTION');
      assert.match(String(r.events.at(-1)?.message), new RegExp(flag));
    });
  }

  it('streams the tokens as they come, ending in the same text as --json gives', async () => {
    const args = ['sample', '--model', model, '--prompt', 'export ', '--max-tokens', '24', '--temperature', '0'];
    const plain = await runCli([...args, ...backend]);
    assert.equal(plain.code, 0, plain.stderr);
    const json = await runCli([...args, ...backend, '--json']);
    const completion = String(json.events.at(-1)?.completion);
    assert.equal(plain.stdout, 'export ' + completion + (completion.endsWith('\n') ? '' : '\n'));
    assert.ok(plain.chunks.length > 5, `written in ${plain.chunks.length} pieces`);
  });

  it('holds back what a stop sequence may still cut', async () => {
    const args = ['sample', '--model', model, '--prompt', 'export ', '--max-tokens', '60', '--temperature', '0'];
    const json = await runCli([...args, ...backend, '--json']);
    const text = String(json.events.at(-1)?.completion);
    const stop = text.slice(5, 8);
    const plain = await runCli([...args, '--stop', stop, ...backend]);
    const cut = text.slice(0, text.indexOf(stop));
    assert.equal(plain.stdout, 'export ' + cut + '\n');
  });

  it('takes the prompt from a file or stdin', async () => {
    const file = path.join(await tmpDir(), 'prompt.txt');
    await fs.writeFile(file, 'export function add');
    const r = await runCli(['sample', '--model', model, '--prompt-file', file, '--max-tokens', '3', ...backend]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith('export function add'));
    const fromStdin = await readPrompt(
      { model, promptFile: '-', maxTokens: '1', temperature: '0', seed: '0', backend: 'wasm' },
      Readable.from([Buffer.from('x'.repeat(1 << 20))]),
    );
    assert.equal(fromStdin.length, 1 << 20);
    const both = await runCli(['sample', '--model', model, '--prompt', 'a', '--prompt-file', file, '--json']);
    assert.equal(both.events.at(-1)?.code, 'BAD_OPTION');
  });

  it('samples and evaluates with a damaged optimizer state (they do not need it)', async () => {
    const dir = path.join(await tmpDir(), 'm');
    await fs.cp(model, dir, { recursive: true });
    const opt = path.join(dir, 'optimizer.safetensors');
    const bytes = await fs.readFile(opt);
    bytes.fill(0x41, 0, 64);
    await fs.writeFile(opt, bytes);
    const s = await runCli(['sample', '--model', dir, '--max-tokens', '3', ...backend]);
    assert.equal(s.code, 0, s.stderr);
    const e = await runCli(['eval', '--model', dir, '--data', corpus, ...backend]);
    assert.equal(e.code, 0, e.stderr);
  });

  it('eval scores every held-out token with sliding windows, and gives the sampled figure beside it', async () => {
    const r = await runCli(['eval', '--model', model, '--data', corpus, ...backend, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const e = r.events.at(-1) as Record<string, number>;
    assert.equal(e.event as unknown, 'eval');
    assert.equal(e.scoredTokens, e.tokens, 'every token of the stream (files and their end-of-text) scored once');
    assert.equal(e.minContext, 32 / 2 + 1);
    // Bits per byte is the scored tokens' bits over the files' bytes.
    assert.ok(Math.abs(e.bitsPerByte - e.loss / Math.LN2 / e.bytesPerToken) < 1e-9, JSON.stringify(e));
    assert.ok(Number.isFinite(e.sampledBitsPerByte) && e.sampledBitsPerByte !== e.bitsPerByte);
    const text = await runCli(['eval', '--model', model, '--data', corpus, ...backend]);
    assert.match(text.stdout, /every held-out token \(\d+\), each predicted from at least 17 tokens of context/);
  });

  it('refuses weights holding NaN as a corrupt checkpoint, naming the tensor', async () => {
    let first = '';
    const dir = await withWeights(model, (name, data) => {
      if (first) return;
      first = name;
      data[0] = NaN;
    });
    for (const cmd of [['sample'], ['eval', '--data', corpus]]) {
      const r = await runCli([...cmd, '--model', dir, ...backend, '--json']);
      assert.equal(r.code, 1);
      assert.equal(r.events.at(-1)?.code, 'BAD_CHECKPOINT');
      assert.match(
        String(r.events.at(-1)?.message),
        new RegExp(`NaN in tensor '${first.replace(/\./g, '\\.')}'.*diverged`),
      );
    }
  });

  it('eval with a non-finite loss fails with a message', async () => {
    // Finite weights whose logits overflow float32.
    const dir = await withWeights(model, (name, data) => {
      if (/wte|ln_f\.weight/.test(name)) data.fill(3e38);
    });
    const r = await runCli(['eval', '--model', dir, '--data', corpus, ...backend, '--json']);
    assert.equal(r.code, 1);
    assert.equal(r.events.at(-1)?.code, 'NON_FINITE_LOSS', r.stdout);
  });

  it('says a model "folder" that is a file is not a folder', async () => {
    const file = path.join(await tmpDir(), 'model');
    await fs.writeFile(file, 'x');
    const r = await runCli(['sample', '--model', file, ...backend, '--json']);
    assert.equal(r.code, 1);
    assert.match(String(r.events.at(-1)?.message), /is a file, not a model folder/);
  });
});
