import { GptLabError, storageError } from '../core/errors';

/**
 * An error as it crosses to the host: a GptLabError keeps its code and message; a full disk or an unwritable
 * folder becomes DISK_FULL or NOT_WRITABLE (as in the CLI); anything else is a bug, sent as INTERNAL with its
 * stack on the worker's stderr (which the host copies into the GPT Lab log).
 */
export function toWire(err: unknown): { code: string; message: string } {
  if (err instanceof GptLabError) return { code: err.code, message: err.message };
  const storage = storageError(err, 'a write');
  if (storage) return { code: storage.code, message: storage.message };
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
