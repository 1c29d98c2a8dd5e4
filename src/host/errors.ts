/**
 * One error family across core, worker and host: every error the user may see is a GptLabError with a code
 * (NO_CHECKPOINT, LOCKED, WORKER_CRASHED …). INTERNAL is left for what nothing describes: a bug.
 * No 'vscode' here, so plain-Node tests can check it.
 */
import { GptLabError } from '../core/errors';

/** An error the worker answered with (its GptLabError's code crosses intact), or the worker's own failure. */
export class WorkerError extends GptLabError {}

/** A worker response's error → the error the host's caller sees. */
export function fromWorker(e: { code: string; message: string }): WorkerError {
  return new WorkerError(e.message, e.code);
}

/** The code of any error reaching the host. */
export function errorCode(err: unknown): string {
  return err instanceof GptLabError ? err.code : 'INTERNAL';
}
