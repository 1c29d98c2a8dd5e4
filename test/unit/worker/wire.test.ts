import { strict as assert } from 'node:assert';
import { ChildProcess, fork } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromWorker } from '../../../src/host/errors';
import type { ResponseMessage, WorkerMethod, WorkerRequests } from '../../../src/protocol/worker';

/** The bundled worker (npm run build), spoken to as the extension host does. */
const WORKER = path.resolve(__dirname, '..', '..', '..', '..', 'dist', 'worker.js');

describe('worker process: errors keep their code on the way to the host', function () {
  this.timeout(60_000);
  let proc: ChildProcess;
  let nextId = 1;

  function request<M extends WorkerMethod>(method: M, params: WorkerRequests[M][0]): Promise<ResponseMessage> {
    const id = nextId++;
    return new Promise((resolve) => {
      const onMessage = (m: ResponseMessage) => {
        if (m.kind !== 'response' || m.id !== id) return;
        proc.off('message', onMessage);
        resolve(m);
      };
      proc.on('message', onMessage);
      proc.send({ kind: 'request', id, method, params });
    });
  }

  before(function () {
    if (!existsSync(WORKER)) this.skip(); // not built: `npm run build` first
    proc = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  });
  after(() => proc?.kill());

  it('a resume with nothing to resume answers NO_CHECKPOINT, not INTERNAL', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-wire-'));
    const r = await request('train', {
      corpus: {
        root: dir,
        files: [{ path: 'a.ts', bytes: new TextEncoder().encode('x') }],
        summary: {} as never,
        languageIds: [],
      },
      config: {} as never,
      modelDir: path.join(dir, 'model'),
      resume: true,
    });
    assert.equal(r.ok, false);
    const err = fromWorker((r as Extract<ResponseMessage, { ok: false }>).error);
    assert.equal(err.code, 'NO_CHECKPOINT', err.message);
  });

  it('answers a request named after an Object.prototype member with BAD_REQUEST, and keeps working', async () => {
    for (const method of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const r = await request(method as WorkerMethod, {} as never);
      assert.equal(r.ok, false, `${method} was run`);
      assert.equal((r as Extract<ResponseMessage, { ok: false }>).error.code, 'BAD_REQUEST', method);
    }
    const hello = await request('hello', {});
    assert.equal(hello.ok, true, 'the worker still answers');
  });
});
