/**
 * Completion latency as the extension sees it: request → answer from the worker process (IPC included), for
 * each preset, at random cursor positions of held-out code. JSON on stdout and in .artifacts/bench-completion.json.
 */
import { ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/core/backend';
import { PRESETS } from '../src/core/model/config';
import { Rng } from '../src/core/rng';
import { defaultTrainConfig } from '../src/core/train/config';
import { pretrain } from '../src/core/train/trainer';
import type { RequestMessage, WorkerRequests, WorkerToHost } from '../src/protocol/worker';

const root = path.resolve(__dirname, '../..');

function code(bytes: number, offset: number): string {
  const file = path.join(path.dirname(require.resolve('typescript/package.json')), 'lib', 'typescript.js');
  return readFileSync(file, 'utf8').slice(offset, offset + bytes);
}

class Worker {
  private id = 0;
  private readonly pending = new Map<number, (m: WorkerToHost) => void>();
  readonly proc: ChildProcess;
  constructor() {
    this.proc = fork(path.join(root, 'dist', 'worker.js'), [], {
      serialization: 'advanced',
      env: { ...process.env, GPT_LAB_BACKEND: 'wasm' },
    });
    this.proc.on('message', (m: WorkerToHost) => m.kind === 'response' && this.pending.get(m.id)?.(m));
  }
  request<M extends keyof WorkerRequests>(method: M, params: WorkerRequests[M][0]): Promise<WorkerRequests[M][1]> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) =>
        m.kind === 'response' && m.ok
          ? resolve(m.result as WorkerRequests[M][1])
          : reject(new Error(JSON.stringify(m))),
      );
      this.proc.send({ kind: 'request', id, method, params } satisfies RequestMessage<M>);
    });
  }
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

export async function benchCompletions(
  opts: { requests?: number; presets?: string[] } = {},
): Promise<Record<string, unknown>> {
  await initBackend('wasm');
  const n = opts.requests ?? 40;
  const trainText = code(400_000, 0);
  const heldOut = code(100_000, 2_000_000);
  const out: Record<string, unknown> = { date: new Date().toISOString(), cpus: os.cpus().length, requests: n };
  for (const name of opts.presets ?? Object.keys(PRESETS)) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `gpt-lab-bench-${name}-`));
    const steps = name === 'tiny' ? 60 : name === 'small' ? 10 : 1;
    process.stderr.write(`completion latency, ${name}: training ${steps} steps…\n`);
    const files = Array.from({ length: 8 }, (_, i) => ({
      path: `f${i}.js`,
      bytes: new TextEncoder().encode(trainText.slice(i * 50_000, (i + 1) * 50_000)),
    }));
    await pretrain({
      files,
      config: defaultTrainConfig(name, { maxSteps: steps, maxMinutes: undefined, evalInterval: 1000 }),
      outDir: dir,
    });
    const w = new Worker();
    try {
      const rng = new Rng(7);
      const at = () => {
        let i = 1000 + rng.int(heldOut.length - 2000);
        while (heldOut[i - 1] === '\n') i++;
        return i;
      };
      const ask = async (i: number) => {
        const t0 = performance.now();
        const lineEnd = heldOut.indexOf('\n', i);
        const r = await w.request('complete', {
          modelDir: dir,
          prefix: heldOut.slice(0, i),
          suffix: heldOut.slice(lineEnd),
          maxTokens: 24,
          multiline: false,
        });
        return { ms: performance.now() - t0, tokens: r.tokens };
      };
      const first = await ask(at());
      const runs = [];
      for (let k = 0; k < n; k++) runs.push(await ask(at()));
      const ms = runs.map((r) => r.ms);
      out[name] = {
        trainedSteps: steps,
        firstRequestMs: Math.round(first.ms),
        p50Ms: +pct(ms, 50).toFixed(1),
        p95Ms: +pct(ms, 95).toFixed(1),
        meanTokens: +(runs.reduce((s, r) => s + r.tokens, 0) / n).toFixed(1),
        msPerToken: +(
          ms.reduce((a, b) => a + b, 0) /
          Math.max(
            1,
            runs.reduce((s, r) => s + r.tokens, 0),
          )
        ).toFixed(2),
      };
    } finally {
      w.proc.kill();
    }
  }
  const dirOut = path.join(root, '.artifacts');
  mkdirSync(dirOut, { recursive: true });
  writeFileSync(path.join(dirOut, 'bench-completion.json'), JSON.stringify(out, null, 2) + '\n');
  return out;
}

if (require.main === module) {
  const presets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  benchCompletions({ presets: presets.length ? presets : undefined }).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (e) => {
      process.stderr.write(String(e?.stack ?? e) + '\n');
      process.exit(1);
    },
  );
}
