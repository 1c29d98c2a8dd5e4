import { GptLabError } from '../core/errors';

/**
 * An error as it crosses to the host: a GptLabError keeps its code and message; anything else is a bug, sent as
 * INTERNAL with its stack on the worker's stderr (which the host copies into the GPT Lab log).
 */
export function toWire(err: unknown): { code: string; message: string } {
  if (err instanceof GptLabError) return { code: err.code, message: err.message };
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
