import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { GptLabError } from '../core/errors';
import { loadModel, LoadedModel } from '../core/model/persist';
import { Generator } from '../core/sample';
import type { WorkerRequests } from '../protocol/worker';
import { COMPLETION_EVAL_FILE } from '../core/complete/modelEval';
import { completeAt } from '../core/complete/completeAt';
import { attentionOf, stepOf } from './inspect';
import { ModelCache } from './modelCache';

interface Loaded extends LoadedModel {
  /** Trained with fill-in-the-middle: completions can use the text after the cursor. */
  fim: boolean;
  generator: Generator;
  dispose(): void;
}

/** Ids of completions the host no longer wants; a cancel may arrive before its request has started. */
const cancelled = new Set<number>();

/** What changes when training saves: state.json, and completion-eval.json (the prompt format to use). */
async function stampOf(dir: string): Promise<string> {
  try {
    const st = await fs.stat(path.join(dir, 'state.json'));
    const ev = await fs.stat(path.join(dir, COMPLETION_EVAL_FILE)).catch(() => undefined);
    return `${st.mtimeMs}:${st.size}:${ev?.mtimeMs ?? 0}`;
  } catch {
    throw new GptLabError('There is no trained model yet. Run "GPT Lab: Train on Workspace".', 'NO_CHECKPOINT');
  }
}

async function load(dir: string): Promise<Loaded> {
  const loaded = await loadModel(dir);
  const training = (loaded.config.training ?? {}) as { fimRate?: number };
  const measured = await measuredMode(dir);
  const fim = measured ? measured === 'fim' : (training.fimRate ?? 0) > 0;
  const generator = new Generator(loaded.model);
  return {
    ...loaded,
    fim,
    generator,
    dispose: () => {
      generator.dispose();
      loaded.model.dispose();
    },
  };
}

/** The newest checkpoint of the model folder, loaded once; a newer one replaces it when no request uses it. */
const models = new ModelCache<Loaded>(stampOf, load);

/** The prompt format the held-out evaluation found better, if it ran. */
async function measuredMode(dir: string): Promise<'fim' | 'prefix' | undefined> {
  try {
    const mode = JSON.parse(await fs.readFile(path.join(dir, COMPLETION_EVAL_FILE), 'utf8')).mode;
    return mode === 'fim' || mode === 'prefix' ? mode : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `f` with the newest checkpoint of `dir` (the cached model completions use: the ranking board's samples). */
export function useModel<T>(dir: string, f: (m: LoadedModel) => T | Promise<T>): Promise<T> {
  return models.use(dir, f);
}

export function disposeModel(): void {
  models.dispose();
}

/** Fill in the middle at a cursor (prefix-only for a model trained without FIM); cancellable between tokens. */
export async function complete(id: number, p: WorkerRequests['complete'][0]): Promise<WorkerRequests['complete'][1]> {
  const t0 = performance.now();
  try {
    return await models.use(p.modelDir, async (m) => {
      // Let a cancel that is already on its way win before any compute is spent (the user kept typing).
      await new Promise((resolve) => setImmediate(resolve));
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
    });
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
  return models.use(p.modelDir, (m) => attentionOf(m.model, m.tokenizer, p.text));
}

export async function step(p: WorkerRequests['step'][0]): Promise<WorkerRequests['step'][1]> {
  return models.use(p.modelDir, (m) => stepOf(m.model, m.tokenizer, p.ids ?? m.tokenizer.encode(p.text ?? '')));
}
