import * as assert from 'node:assert/strict';
import { ChildProcess, fork } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BACKEND_NAMES, initBackend } from '../../../../src/core/backend';
import { noGpuDeviceNode, WebGpuAdapter } from '../../../../src/core/backend/webgpu';
import { loadModel } from '../../../../src/core/model/persist';
import { defaultTrainConfig } from '../../../../src/core/train/config';
import type { ResponseMessage, WorkerEvent, WorkerMethod, WorkerRequests } from '../../../../src/protocol/worker';
import { stepOf } from '../../../../src/worker/inspect';
import { codeFiles } from '../../helpers/tf';
import { tmpDir } from '../../helpers/train';
import { adapterOrSkip } from '../../helpers/webgpu';

/*
 * The extension's worker (dist/worker.js, forked as the host forks it) with `gptLab.backend` set to webgpu: it
 * trains, completes, ranks and answers the stepper and the attention view on webgpu, every read asynchronous.
 * In CI the adapter is Mesa's llvmpipe (software), which only the explicit setting may take: auto must not.
 * Skips where the bundle is not built (`npm run build`) or no adapter exists.
 */

const WORKER = path.resolve(__dirname, '../../../../../dist/worker.js');

/** A forked worker and its requests, answered by id; log events collected. */
function startWorker(backend: string | undefined, extraEnv: Record<string, string> = {}) {
  const env = { ...process.env, ...extraEnv };
  if (backend) env.GPT_LAB_BACKEND = backend;
  else delete env.GPT_LAB_BACKEND;
  const proc: ChildProcess = fork(WORKER, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...env, ELECTRON_RUN_AS_NODE: '1' },
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const logs: string[] = [];
  const onLog: ((m: string) => void)[] = [];
  proc.on('message', (m: WorkerEvent) => {
    if (m.kind === 'event' && m.event === 'log') {
      const text = (m.data as { message: string }).message;
      logs.push(text);
      onLog.forEach((f) => f(text));
    }
  });
  let nextId = 1;
  function request<M extends WorkerMethod>(method: M, params: WorkerRequests[M][0]): Promise<WorkerRequests[M][1]> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (m: ResponseMessage) => {
        if (m.kind !== 'response' || m.id !== id) return;
        proc.off('message', onMessage);
        if (m.ok) resolve(m.result as WorkerRequests[M][1]);
        else reject(new Error(`${method}: ${m.error.code}: ${m.error.message}`));
      };
      proc.on('message', onMessage);
      proc.on('exit', (code) => reject(new Error(`the worker exited (${code}): ${stderr.slice(-2000)}`)));
      proc.send({ kind: 'request', id, method, params });
    });
  }
  return { proc, request, logs, onLog };
}

describe("the extension's worker on webgpu (gptLab.backend)", function () {
  this.timeout(600_000);
  let adapter: WebGpuAdapter;

  before(async function () {
    if (!existsSync(WORKER)) {
      console.log('\n      !!! SKIPPING the webgpu worker tests: dist/worker.js is not built (npm run build)\n');
      this.skip();
    }
    adapter = await adapterOrSkip(this, 'webgpu worker tests');
  });

  after(async () => {
    await initBackend('wasm'); // the rest of the suite runs on the default
  });

  it('auto takes webgpu in the worker only on a hardware adapter', async () => {
    // GPT_LAB_WEBGPU_PROBE: Dawn is loaded even without a GPU device node, so the adapter rule decides.
    const w = startWorker(undefined, { GPT_LAB_WEBGPU_PROBE: '1' });
    try {
      const hello = await w.request('hello', {});
      if (adapter.kind.kind === 'software') {
        assert.notEqual(hello.backend, 'webgpu');
        assert.ok(
          hello.skipped.some((s) => s.startsWith('webgpu: ') && /auto' leaves it out/.test(s)),
          hello.skipped.join('; '),
        );
      } else assert.equal(hello.backend, 'webgpu');
    } finally {
      w.proc.kill('SIGKILL');
    }
  });

  it('auto does not load Dawn on Linux without a GPU device node', async function () {
    if (!noGpuDeviceNode()) this.skip(); // this machine has one (or is not Linux)
    const w = startWorker(undefined);
    try {
      const hello = await w.request('hello', {});
      assert.notEqual(hello.backend, 'webgpu');
      assert.ok(
        hello.skipped.some((s) => s.startsWith('webgpu: not for auto: no GPU device node')),
        hello.skipped.join('; '),
      );
    } finally {
      w.proc.kill('SIGKILL');
    }
  });

  it('trains, completes, ranks, steps and shows attention on webgpu; the stepper agrees with wasm', async () => {
    const dir = await tmpDir('webgpu-worker');
    const modelDir = path.join(dir, 'model');
    const files = codeFiles(4);
    const w = startWorker('webgpu');
    try {
      assert.equal((await w.request('hello', {})).backend, 'webgpu');
      // The completion check after training generates on webgpu too (the worker never switches backend under a
      // request in flight); on a software adapter its hundreds of tokens take minutes, so it is stopped once begun.
      w.onLog.push((m) => {
        if (/evaluating completions/.test(m)) void w.request('stop', {});
      });
      const trained = await w.request('train', {
        corpus: {
          root: dir,
          files,
          summary: { files: files.length, bytes: 0, languages: [], skipped: {} } as never,
          languageIds: ['typescript'],
        },
        config: defaultTrainConfig('tiny', {
          model: { vocabSize: 300, contextLength: 16, nEmbd: 16, nLayer: 1, nHead: 2, positionEncoding: 'learned' },
          batchSize: 2,
          maxSteps: 3,
          maxMinutes: undefined,
        }),
        modelDir,
        resume: false,
      });
      assert.equal(trained.step, 3);
      assert.ok(
        w.logs.some((l) => /evaluating completions/.test(l)),
        w.logs.join('\n'),
      );

      const c = await w.request('complete', {
        modelDir,
        prefix: 'export function add',
        suffix: '',
        maxTokens: 4,
        multiline: false,
      });
      assert.equal(typeof c.text, 'string');
      assert.ok(c.tokens >= 0 && c.step === 3, JSON.stringify(c));

      const ranked = await w.request('rank', {
        modelDir,
        prompt: 'export function ',
        count: 2,
        temperature: 1,
        maxTokens: 3,
        seed: 3,
      });
      assert.ok(ranked.completions.length >= 1, JSON.stringify(ranked));

      const text = 'return a + ';
      const attention = await w.request('inspect', { modelDir, text });
      const T = attention.tokens.ids.length;
      assert.equal(attention.weights.length, attention.layers * attention.heads * T * T);

      const gpu = await w.request('step', { modelDir, text });
      await initBackend('wasm');
      const { model, tokenizer } = await loadModel(modelDir);
      try {
        const cpu = await stepOf(model, tokenizer, tokenizer.encode(text));
        assert.equal(gpu.logits.length, cpu.logits.length);
        gpu.logits.forEach((l, i) =>
          assert.ok(Math.abs(l - cpu.logits[i]) < 1e-3, `logit ${i}: ${l} vs ${cpu.logits[i]}`),
        );
        assert.deepEqual(
          gpu.lens.map((l) => l.top.map((t) => t.display)),
          cpu.lens.map((l) => l.top.map((t) => t.display)),
        );
      } finally {
        model.dispose();
      }
    } finally {
      w.proc.kill('SIGKILL');
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the gptLab.backend setting', () => {
  it('offers every backend the engine knows, webgpu included, each with a description', () => {
    const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../../../../package.json'), 'utf8'));
    const setting = manifest.contributes.configuration.properties['gptLab.backend'] as {
      enum: string[];
      enumDescriptions: string[];
    };
    assert.deepEqual(setting.enum, ['auto', ...BACKEND_NAMES]);
    assert.equal(setting.enumDescriptions.length, setting.enum.length);
  });
});

describe("auto's GPU device check before loading Dawn", () => {
  const none = () => false;
  const empty = () => [];
  it('on Linux, needs a render node, an NVIDIA device or WSL2 dxg; other systems always probe', () => {
    assert.match(noGpuDeviceNode('linux', none, empty) ?? '', /no GPU device node/);
    assert.match(noGpuDeviceNode('linux', none, () => ['card0']) ?? '', /no GPU device node/);
    assert.equal(
      noGpuDeviceNode('linux', none, () => ['card0', 'renderD128']),
      undefined,
    );
    assert.equal(
      noGpuDeviceNode('linux', (p) => p === '/dev/nvidiactl', empty),
      undefined,
    );
    assert.equal(
      noGpuDeviceNode('linux', (p) => p === '/dev/dxg', empty),
      undefined,
    );
    assert.equal(noGpuDeviceNode('darwin', none, empty), undefined);
    assert.equal(noGpuDeviceNode('win32', none, empty), undefined);
  });
});
