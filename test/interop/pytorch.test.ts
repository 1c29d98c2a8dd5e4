/**
 * GPT Lab ⇄ PyTorch, against Python with torch (Debian's python3-torch on CPU; .ci/run installs it; another
 * interpreter through $GPT_LAB_PYTHON): the same logits on exported weights, torchrun DDP on two gloo ranks,
 * exact resume, the trained model imported back, and a GPT-2-layout checkpoint with vocab.json + merges.txt.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { importModel, MODERN_MODEL_TYPE } from '../../src/core/interop';
import { architectureOf, GPTConfig, validateConfig } from '../../src/core/model/config';
import { loadModel } from '../../src/core/model/persist';
import { runCli } from '../unit/cli/run';
import { useWasm } from '../unit/helpers/tf';
import { corpusFolder, makeModelFolder, tmp } from '../unit/interop/support';
import { stopAll, torchrun } from './torchrun';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCALE = path.join(ROOT, 'scale');
const TOLERANCE = 1e-4;
const PYTHON_ENV = { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' };
/** torchrun's time before the test stops its whole process group (test/interop/torchrun.ts). */
const TORCHRUN_LIMIT_MS = 240000;

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: opts.cwd ?? ROOT,
        maxBuffer: 64 << 20,
        env: PYTHON_ENV,
        // One Python process: killed before the suite's 180 s, so none outlives its test.
        timeout: 150000,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-3000)}`));
        else resolve(stdout);
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** The first interpreter that imports torch and numpy. */
async function findPython(): Promise<string> {
  const candidates = [process.env.GPT_LAB_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[];
  for (const p of candidates) {
    try {
      await run(p, ['-c', 'import torch, numpy']);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(
    'These tests need Python 3 with PyTorch: apt-get install python3-torch (CI: .ci/run), or set GPT_LAB_PYTHON.',
  );
}

/** PyTorch's logits (scale/model.py) of each export for its ids, in one Python process. */
async function torchLogits(python: string, cases: { dir: string; ids: number[] }[]): Promise<number[][][]> {
  const script = [
    'import json, sys, torch',
    `sys.path.insert(0, ${JSON.stringify(SCALE)})`,
    'from model import load_export',
    'out = []',
    'for c in json.load(sys.stdin):',
    '    m, _, _ = load_export(c["dir"]); m.eval()',
    '    with torch.no_grad(): out.append(m(torch.tensor([c["ids"]]))[0].tolist())',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(await run(python, ['-c', script], { input: JSON.stringify(cases) })) as number[][][];
}

async function gptLabLogits(dir: string, ids: number[]): Promise<number[][]> {
  const { model } = await loadModel(dir);
  try {
    return tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.arraySync()[0]);
  } finally {
    model.dispose();
  }
}

function maxAbsDiff(a: number[][], b: number[][], column: (i: number) => number = (i) => i): number {
  let m = 0;
  a.forEach((row, t) =>
    row.forEach((x, i) => {
      const j = column(i);
      if (j >= 0) m = Math.max(m, Math.abs(x - b[t][j]));
    }),
  );
  return m;
}

async function readLog(dir: string): Promise<Record<string, unknown>[]> {
  const text = await fs.readFile(path.join(dir, 'log.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The models the parity checks build without training: GPT-2's recipe, options added on top. */
const GPT2_SMALL: GPTConfig = {
  vocabSize: 300,
  contextLength: 24,
  nEmbd: 32,
  nLayer: 2,
  nHead: 4,
  positionEncoding: 'learned',
};

const SAMPLE = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';

describe('interop with PyTorch (python3-torch)', function () {
  this.timeout(180000);
  let python: string;
  let modelDir: string;
  let exported: string;

  before(async () => {
    python = await findPython();
    await useWasm();
    const corpus = await corpusFolder();
    modelDir = path.join(await tmp(), 'base');
    const tiny = ['--layers', '1', '--embd', '32', '--heads', '2', '--context', '32', '--vocab', '300', '--batch', '2'];
    const t = await runCli(['train', corpus, '--steps', '5', ...tiny, '--backend', 'wasm', '--out', modelDir]);
    assert.equal(t.code, 0, t.stderr);
    exported = path.join(await tmp(), 'export');
    const e = await runCli(['export', '--model', modelDir, '--out', exported, '--json']);
    assert.equal(e.code, 0, e.stderr);
  });

  it("gives GPT Lab's logits on the exported weights (max abs diff ≤ 1e-4), for GPT-2's recipe and the others", async () => {
    const { tokenizer } = await loadModel(modelDir).then((m) => (m.model.dispose(), m));
    const ids = tokenizer.encode(SAMPLE).slice(0, 32);
    const cases: { name: string; dir: string; ids: number[] }[] = [
      { name: 'trained (the default, modern architecture)', dir: modelDir, ids },
    ];
    const variants: [string, Record<string, unknown>][] = [
      ["GPT-2's recipe", {}],
      ['sinusoidal positions', { positionEncoding: 'sinusoidal' }],
      [
        'rotary, QK-norm, ReLU², untied head, no biases, soft-cap',
        { positionEncoding: 'rotary', qkNorm: true, mlp: 'relu2', untiedHead: true, bias: false, logitSoftCap: 30 },
      ],
    ];
    for (const [name, opts] of variants) {
      const cfg = { ...GPT2_SMALL, ...opts };
      try {
        validateConfig(cfg as GPTConfig);
      } catch {
        continue; // an engine without that option
      }
      const dir = path.join(await tmp(), 'variant');
      await makeModelFolder(dir, cfg as GPTConfig);
      cases.push({ name, dir, ids: [1, 97, 260, 45, 256, 300 - 1, 32, 10, 120, 33, 257, 299, 5, 7] });
    }
    const exports = [];
    for (const c of cases) {
      const dir = c.dir === modelDir ? exported : path.join(await tmp(), 'exp');
      if (c.dir !== modelDir)
        assert.equal((await runCli(['export', '--model', c.dir, '--out', dir, '--no-corpus'])).code, 0);
      exports.push({ dir, ids: c.ids });
    }
    const theirs = await torchLogits(python, exports);
    for (const [i, c] of cases.entries()) {
      const ours = await gptLabLogits(c.dir, c.ids);
      const diff = maxAbsDiff(ours, theirs[i]);
      console.log(
        `      parity, ${c.name}: max |GPT Lab − PyTorch| = ${diff.toExponential(2)} over ${c.ids.length}×${ours[0].length} logits`,
      );
      assert.ok(diff <= TOLERANCE, `${c.name}: ${diff}`);
    }
  });

  after(stopAll); // a run still going when a test timed out

  it('trains with torchrun on 2 gloo ranks: the loss falls, both ranks hold the same weights, and it imports back', async function () {
    // Under load (a shared CI machine) starting torchrun and two ranks that import torch takes most of a minute.
    this.timeout(TORCHRUN_LIMIT_MS + 60000);
    const trained = path.join(await tmp(), 'trained');
    await torchrun({
      python,
      nproc: 2,
      cwd: ROOT,
      env: PYTHON_ENV,
      logDir: path.join(await tmp(), 'torchrun-logs'),
      limitMs: TORCHRUN_LIMIT_MS,
      args: [
        path.join(SCALE, 'train_ddp.py'),
        '--data',
        exported,
        '--out',
        trained,
        '--steps',
        '30',
        '--batch',
        '4',
        '--grad-accum',
        '2',
        '--warmup',
        '5',
        '--lr',
        '3e-3',
        '--eval-every',
        '15',
        '--device',
        'cpu',
        // A rank whose peer died fails after 2 minutes instead of waiting on it for gloo's default 30.
        '--timeout-s',
        '120',
      ],
    });
    const log = await readLog(trained);
    const start = log.find((r) => r.event === 'start')!;
    assert.equal(start.world_size, 2);
    assert.equal(start.backend, 'gloo');
    const losses = log.filter((r) => r.event === 'step').map((r) => r.loss as number);
    assert.equal(losses.length, 30);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) - 0.3, `loss ${losses.join(', ')}`);
    const done = log.find((r) => r.event === 'done')!;
    const prints = done.fingerprints as string[];
    assert.equal(prints.length, 2);
    assert.equal(prints[0], prints[1]);

    // The default architecture is the modern one: its own model_type, which train_ddp.py keeps and import reads.
    const written = JSON.parse(await fs.readFile(path.join(trained, 'config.json'), 'utf8'));
    assert.equal(written.model_type, MODERN_MODEL_TYPE);
    assert.equal(written.architectures, undefined);
    const version = path.join(await tmp(), 'models', 'torch-1');
    const imp = await runCli(['import', '--from', trained, '--out', version, '--json']);
    assert.equal(imp.code, 0, imp.stderr);
    const cfg = JSON.parse(await fs.readFile(path.join(version, 'config.json'), 'utf8'));
    assert.equal(architectureOf(cfg.model), 'modern');
    assert.equal(cfg.lineage.stage, 'import');
    assert.equal(cfg.lineage.step, 5 + 30);
    assert.equal(cfg.lineage.data.trained.world_size, 2);
    const s = await runCli([
      'sample',
      '--model',
      version,
      '--prompt',
      'export function ',
      '--max-tokens',
      '12',
      '--temperature',
      '0',
      '--backend',
      'wasm',
      '--json',
    ]);
    assert.equal(s.code, 0, s.stderr);
    const sampled = s.events.find((e) => e.event === 'done') ?? s.events.at(-1)!;
    assert.ok(JSON.stringify(sampled).length > 0);
  });

  it("transformers, where installed: a GPT-2-recipe export loads as GPT2LMHeadModel with GPT Lab's logits; a modern one is refused by its model_type", async function () {
    try {
      await run(python, ['-c', 'import transformers']);
    } catch {
      console.log(`      transformers is not installed for ${python}: nothing to check against`);
      this.skip();
    }
    const gpt2Dir = path.join(await tmp(), 'gpt2');
    await makeModelFolder(gpt2Dir, GPT2_SMALL);
    const gpt2Export = path.join(await tmp(), 'exp');
    assert.equal((await runCli(['export', '--model', gpt2Dir, '--out', gpt2Export, '--no-corpus'])).code, 0);
    const ids = [1, 97, 260, 45, 256, 299, 32, 10, 120, 33];
    const script = [
      'import json, sys, torch, transformers as t',
      'a = json.load(sys.stdin)',
      'm = t.AutoModelForCausalLM.from_pretrained(a["gpt2"]); m.eval()',
      'with torch.no_grad(): logits = m(torch.tensor([a["ids"]])).logits[0].tolist()',
      'try:',
      '    t.AutoModelForCausalLM.from_pretrained(a["modern"]); refused = None',
      'except Exception as e:',
      '    refused = str(e)',
      'print(json.dumps({"cls": type(m).__name__, "logits": logits, "refused": refused}))',
    ].join('\n');
    const r = JSON.parse(
      await run(python, ['-c', script], { input: JSON.stringify({ gpt2: gpt2Export, modern: exported, ids }) }),
    ) as { cls: string; logits: number[][]; refused: string | null };
    assert.equal(r.cls, 'GPT2LMHeadModel');
    const diff = maxAbsDiff(await gptLabLogits(gpt2Dir, ids), r.logits);
    console.log(`      transformers GPT2LMHeadModel: max |GPT Lab − transformers| = ${diff.toExponential(2)}`);
    assert.ok(diff <= TOLERANCE, String(diff));
    assert.ok(r.refused !== null, 'transformers loaded the modern export as some model');
    assert.match(r.refused, new RegExp(MODERN_MODEL_TYPE));
  });

  it("stops a torchrun past its limit as a whole: nothing left running, each rank's stack in the error", async function () {
    this.timeout(120000);
    // Two ranks that never end (no torch in them: they start at once): rank 1 spins, rank 0 sleeps.
    const dir = await tmp();
    const script = path.join(dir, 'stuck.py');
    await fs.writeFile(
      script,
      [
        'import faulthandler, os, signal, sys, time',
        'faulthandler.register(signal.SIGTERM, file=sys.stdout, all_threads=True, chain=True)',
        'print("pid", os.getpid(), flush=True)',
        'def spin():',
        '    while True: pass',
        'def nap():',
        '    while True: time.sleep(1)',
        'spin() if os.environ["RANK"] == "1" else nap()',
      ].join('\n'),
    );
    const logDir = path.join(dir, 'logs');
    const err = await torchrun({ python, nproc: 2, cwd: dir, env: PYTHON_ENV, logDir, limitMs: 20000, args: [script] })
      .then(() => undefined)
      .catch((e: Error) => e);
    assert.ok(err, 'a run that never ends resolved');
    assert.match(err.message, /ran past 20 s/);
    // Each rank was stopped where it was, and said so in its own log.
    assert.match(err.message, /line 5 in spin/);
    assert.match(err.message, /line 7 in nap/);
    const pids = [...err.message.matchAll(/^pid (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(pids.length, 2, err.message);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `rank ${pid} still runs`);
  });

  it('resumes from its checkpoint to exactly the weights of an uninterrupted run', async () => {
    const args = (out: string, more: string[]) => [
      path.join(SCALE, 'train_ddp.py'),
      '--data',
      exported,
      '--out',
      out,
      '--steps',
      '8',
      '--batch',
      '2',
      '--warmup',
      '2',
      '--eval-batches',
      '1',
      '--device',
      'cpu',
      ...more,
    ];
    const straight = path.join(await tmp(), 'straight');
    const resumed = path.join(await tmp(), 'resumed');
    await Promise.all([run(python, args(straight, [])), run(python, args(resumed, ['--stop-at', '4']))]);
    assert.ok((await readLog(resumed)).some((r) => r.event === 'stopped' && r.step === 4));
    await run(python, args(resumed, ['--resume']));
    const print = async (dir: string) =>
      ((await readLog(dir)).find((r) => r.event === 'done')!.fingerprints as string[])[0];
    assert.equal(await print(resumed), await print(straight));
  });

  it("imports a GPT-2-layout checkpoint with vocab.json + merges.txt: GPT-2's token ids and PyTorch's logits", async () => {
    const texts = [
      "def main(args):\n    return the_answer(args) + 42\n\nIt's what we'll do:  héllo wörld!",
      'The quick brown fox   jumps\tover 12345 lazy dogs 中文 🙂 ',
      "x''s I'M\n\n\n  indented\r\n",
    ];
    const dir = await tmp('gpt-lab-gpt2-');
    const textsFile = path.join(dir, 'texts.json');
    await fs.writeFile(textsFile, JSON.stringify(texts));
    const ckpt = path.join(dir, 'gpt2');
    const ref = JSON.parse(
      await run(python, [path.join(ROOT, 'test', 'interop', 'gpt2_fixture.py'), ckpt, textsFile]),
    ) as {
      ids: number[][];
      logits: number[][];
      vocab_size: number;
    };
    const version = path.join(dir, 'models', 'gpt2-import');
    const r = await importModel({ fromDir: ckpt, outDir: version });
    assert.equal(r.kind, 'gpt2');
    const toGpt2 = r.toGpt2!;
    const { model, tokenizer } = await loadModel(version);
    model.dispose();
    assert.equal(tokenizer.pretokenizer, 'gpt2');
    texts.forEach((t, i) =>
      assert.deepEqual(
        tokenizer.encode(t).map((id) => toGpt2[id]),
        ref.ids[i],
        `text ${i}`,
      ),
    );
    const ours = await gptLabLogits(version, tokenizer.encode(texts[0]).slice(0, 64));
    const diff = maxAbsDiff(ours, ref.logits, (i) => toGpt2[i]);
    console.log(`      parity, GPT-2 checkpoint: max |GPT Lab − PyTorch| = ${diff.toExponential(2)} (ids permuted)`);
    assert.ok(diff <= TOLERANCE, String(diff));
    assert.equal(tokenizer.decodeText(tokenizer.encode(texts[1])), texts[1]);
  });
});
