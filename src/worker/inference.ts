import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { GptLabError } from '../core/errors';
import { loadModel, LoadedModel } from '../core/model/persist';
import { Generator } from '../core/sample';
import type { WorkerRequests } from '../protocol/worker';
import { COMPLETION_EVAL_FILE } from '../core/complete/modelEval';
import { completeAt } from '../core/complete/completeAt';
import { attentionOf, stepOf } from './inspect';

interface Loaded extends LoadedModel {
  dir: string;
  stamp: string;
  /** Trained with fill-in-the-middle: completions can use the text after the cursor. */
  fim: boolean;
  generator: Generator;
}

let current: Loaded | undefined;
/** Ids of completions the host no longer wants; a cancel may arrive before its request has started. */
const cancelled = new Set<number>();

/** The newest checkpoint of `dir`, loaded once and reloaded when training saves a new one. */
async function ensureModel(dir: string): Promise<Loaded> {
  let stamp: string;
  try {
    const st = await fs.stat(path.join(dir, 'state.json'));
    const ev = await fs.stat(path.join(dir, COMPLETION_EVAL_FILE)).catch(() => undefined);
    stamp = `${st.mtimeMs}:${st.size}:${ev?.mtimeMs ?? 0}`;
  } catch {
    throw new GptLabError('There is no trained model yet. Run "GPT Lab: Train on Workspace".', 'NO_CHECKPOINT');
  }
  if (current && current.dir === dir && current.stamp === stamp) return current;
  const loaded = await loadModel(dir);
  disposeModel();
  const training = (loaded.config.training ?? {}) as { fimRate?: number };
  const measured = await measuredMode(dir);
  const fim = measured ? measured === 'fim' : (training.fimRate ?? 0) > 0;
  current = { ...loaded, dir, stamp, fim, generator: new Generator(loaded.model) };
  return current;
}

/** The prompt format the held-out evaluation found better, if it ran. */
async function measuredMode(dir: string): Promise<'fim' | 'prefix' | undefined> {
  try {
    const mode = JSON.parse(await fs.readFile(path.join(dir, COMPLETION_EVAL_FILE), 'utf8')).mode;
    return mode === 'fim' || mode === 'prefix' ? mode : undefined;
  } catch {
    return undefined;
  }
}

export function disposeModel(): void {
  current?.generator.dispose();
  current?.model.dispose();
  current = undefined;
}

/** Fill in the middle at a cursor (prefix-only for a model trained without FIM); cancellable between tokens. */
export async function complete(id: number, p: WorkerRequests['complete'][0]): Promise<WorkerRequests['complete'][1]> {
  const t0 = performance.now();
  const m = await ensureModel(p.modelDir);
  // Let a cancel that is already on its way win before any compute is spent (the user kept typing).
  await new Promise((resolve) => setImmediate(resolve));
  try {
    const r = await completeAt(m.model, m.tokenizer, p.prefix, p.suffix, {
      fim: m.fim,
      maxTokens: p.maxTokens,
      multiline: p.multiline,
      shouldStop: () => cancelled.has(id),
      generator: m.generator,
    });
    return {
      text: r.text,
      tokens: r.tokens.length,
      stopReason: r.stopReason,
      ms: performance.now() - t0,
      step: m.checkpoint.step,
      fim: m.fim,
    };
  } finally {
    cancelled.delete(id);
  }
}

/** Marks a running completion as stale; its generation stops before the next token. */
export function cancel(id: number): boolean {
  cancelled.add(id);
  // A cancel for a request that already finished stays behind: keep the set small.
  if (cancelled.size > 1000) cancelled.delete(cancelled.values().next().value!);
  return true;
}

export async function inspect(p: WorkerRequests['inspect'][0]): Promise<WorkerRequests['inspect'][1]> {
  const m = await ensureModel(p.modelDir);
  return attentionOf(m.model, m.tokenizer, p.text);
}

export async function step(p: WorkerRequests['step'][0]): Promise<WorkerRequests['step'][1]> {
  const m = await ensureModel(p.modelDir);
  return stepOf(m.model, m.tokenizer, p.ids ?? m.tokenizer.encode(p.text ?? ''));
}
