/**
 * The worker process: owns every tensor, runs jobs from protocol messages, streams progress, answers by id.
 * Started by the extension host with child_process.fork (IPC channel, structured-clone serialization).
 */
import * as path from 'node:path';
import { BackendPreference, initBackend, setWasmDirectory } from '../core/backend';
import type {
  HostToWorker,
  RequestMessage,
  WorkerEvent,
  WorkerMethod,
  WorkerRequests,
  WorkerToHost,
} from '../protocol/worker';
import { GptLabError } from '../core/errors';
import { toWire } from './errors';
import { cancel, complete, inspect, step } from './inference';
import { deleteModel, runTraining, stopTraining } from './training';
import { finetuning, runFinetune, stopFinetune } from './finetuning';
import { aligning, compareVersions, rankCompletions, runAlign, stopAlign } from './aligning';
import { useModel } from './inference';
import { exportVersion, importVersion } from './interop';

function send(msg: WorkerToHost): void {
  process.send?.(msg);
}

export function emit(event: WorkerEvent['event'], data: WorkerEvent['data']): void {
  send({ kind: 'event', event, data } as WorkerEvent);
}

type Handler<M extends WorkerMethod> = (params: WorkerRequests[M][0], id: number) => Promise<WorkerRequests[M][1]>;

const backendReady = (async () => {
  // Bundled: the .wasm files sit next to this file.
  setWasmDirectory(__dirname + path.sep);
  // Every job reads tensors with `await data()`, so auto may take a hardware webgpu adapter (never a software one);
  // completions run while a job awaits, so the backend never switches under them (concurrent).
  return initBackend((process.env.GPT_LAB_BACKEND as BackendPreference | undefined) ?? 'auto', {
    readsAsync: true,
    concurrent: true,
  });
})();

const handlers: { [M in WorkerMethod]: Handler<M> } = {
  hello: async () => {
    const b = await backendReady;
    return { pid: process.pid, backend: b.name, skipped: b.skipped };
  },
  train: async (p) => {
    await backendReady;
    if (finetuning()) throw new GptLabError('GPT Lab is fine-tuning. Stop it first.', 'BUSY');
    if (aligning()) throw new GptLabError('GPT Lab is aligning a model. Stop it first.', 'BUSY');
    return runTraining(p, emit);
  },
  finetune: async (p) => {
    await backendReady;
    return runFinetune(p, emit);
  },
  align: async (p) => {
    await backendReady;
    return runAlign(p, emit);
  },
  rank: async (p) => {
    await backendReady;
    return useModel(p.modelDir, (m) => rankCompletions(m, p));
  },
  compare: async (p) => {
    await backendReady;
    return compareVersions(p);
  },
  stop: async () => ({ stopping: stopTraining() || stopFinetune() || stopAlign() }),
  // Safetensors and JSON as plain arrays: no backend needed, but for the imported version's completion check.
  exportModel: async (p) => exportVersion(p, emit),
  importModel: async (p) => {
    if (p.corpusFiles?.length) await backendReady; // the completion check runs the model
    return importVersion(p, emit);
  },
  // No backend needed: deleting works even where the backend cannot start.
  deleteModel: async (p) => deleteModel(p),
  complete: async (p, id) => {
    await backendReady;
    return complete(id, p);
  },
  cancel: async (p) => ({ cancelled: cancel(p.id) }),
  inspect: async (p) => {
    await backendReady;
    return inspect(p);
  },
  step: async (p) => {
    await backendReady;
    return step(p);
  },
};

function isRequest(m: unknown): m is RequestMessage {
  const r = m as RequestMessage;
  return (
    typeof m === 'object' &&
    m !== null &&
    r.kind === 'request' &&
    typeof r.id === 'number' &&
    typeof r.method === 'string' &&
    // Own names only: '__proto__', 'constructor' or 'toString' are not methods.
    Object.hasOwn(handlers, r.method)
  );
}

process.on('message', async (raw: unknown) => {
  if (!isRequest(raw)) {
    const id = (raw as { id?: unknown })?.id;
    if (typeof id === 'number')
      send({ kind: 'response', id, ok: false, error: { code: 'BAD_REQUEST', message: 'Malformed request.' } });
    return;
  }
  const msg = raw as HostToWorker;
  try {
    const handler = handlers[msg.method] as Handler<WorkerMethod>;
    const result = await handler(msg.params as never, msg.id);
    send({ kind: 'response', id: msg.id, ok: true, result });
  } catch (err) {
    send({ kind: 'response', id: msg.id, ok: false, error: toWire(err) });
  }
});

// The host going away (window closed, extension host crashed) ends the worker too.
process.on('disconnect', () => process.exit(0));
