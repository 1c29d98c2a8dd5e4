import { ChildProcess, fork } from 'node:child_process';
import * as vscode from 'vscode';
import type { RequestMessage, WorkerEvent, WorkerMethod, WorkerRequests, WorkerToHost } from '../protocol/worker';

import { fromWorker, WorkerError } from './errors';

export { WorkerError };

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the host asked it to stop (dispose); false for a crash or a kill from outside. */
  expected: boolean;
}

/**
 * The extension host's side of the worker process. Starts it on the first request, restarts it on the next
 * request after it died, and turns its messages into promises (requests) and events.
 */
export class WorkerClient implements vscode.Disposable {
  private proc: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly onEventEmitter = new vscode.EventEmitter<WorkerEvent>();
  private readonly onExitEmitter = new vscode.EventEmitter<WorkerExit>();
  readonly onEvent = this.onEventEmitter.event;
  readonly onExit = this.onExitEmitter.event;
  private stopping = false;

  constructor(
    private readonly workerPath: string,
    private readonly env: () => Record<string, string>,
    private readonly log: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Sends a request; a cancelled `token` tells the worker to abort it (the promise then settles as the worker says). */
  request<M extends WorkerMethod>(
    method: M,
    params: WorkerRequests[M][0],
    token?: vscode.CancellationToken,
  ): Promise<WorkerRequests[M][1]> {
    const proc = this.ensure();
    const id = this.nextId++;
    const msg: RequestMessage<M> = { kind: 'request', id, method, params };
    const onCancel = token?.onCancellationRequested(() => {
      if (this.proc === proc && proc.connected)
        proc.send({
          kind: 'request',
          id: this.nextId++,
          method: 'cancel',
          params: { id },
        } satisfies RequestMessage<'cancel'>);
    });
    return new Promise<WorkerRequests[M][1]>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (v) => {
          onCancel?.dispose();
          resolve(v as WorkerRequests[M][1]);
        },
        reject: (e) => {
          onCancel?.dispose();
          reject(e);
        },
      });
      proc.send(msg, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(new WorkerError(`Could not reach the GPT Lab worker: ${err.message}`, 'WORKER_UNREACHABLE'));
        }
      });
    });
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    this.stopping = false;
    const proc = fork(this.workerPath, [], {
      serialization: 'advanced', // typed arrays cross without JSON
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...this.env(), ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [],
    });
    this.proc = proc;
    this.log(`worker started (pid ${proc.pid})`);
    proc.stdout?.on('data', (d: Buffer) => this.log(`[worker] ${d.toString().trimEnd()}`));
    proc.stderr?.on('data', (d: Buffer) => this.log(`[worker] ${d.toString().trimEnd()}`));
    proc.on('message', (m: WorkerToHost) => this.onMessage(m));
    proc.on('error', (err) => this.log(`worker error: ${err.message}`));
    proc.on('exit', (code, signal) => {
      if (this.proc === proc) this.proc = undefined;
      const expected = this.stopping;
      this.log(`worker exited (code ${code}, signal ${signal})`);
      for (const p of this.pending.values()) {
        p.reject(
          new WorkerError(
            expected
              ? 'The GPT Lab worker was stopped.'
              : `The GPT Lab worker stopped unexpectedly (${signal ?? 'exit code ' + code}).`,
            expected ? 'WORKER_STOPPED' : 'WORKER_CRASHED',
          ),
        );
      }
      this.pending.clear();
      this.onExitEmitter.fire({ code, signal, expected });
    });
    return proc;
  }

  private onMessage(m: WorkerToHost): void {
    if (m.kind === 'event') {
      this.onEventEmitter.fire(m);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(fromWorker(m.error));
  }

  /** Ends the worker (a new one starts on the next request). */
  stop(): void {
    if (!this.proc) return;
    this.stopping = true;
    const proc = this.proc;
    proc.disconnect?.();
    setTimeout(() => proc.exitCode === null && proc.kill('SIGKILL'), 3000).unref();
  }

  dispose(): void {
    this.stop();
    this.onEventEmitter.dispose();
    this.onExitEmitter.dispose();
  }
}
