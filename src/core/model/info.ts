import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { checkpointExists, loadCheckpointConfig } from '../checkpoint';
import { parameterCount } from './config';
import type { ModelFolderConfig } from './persist';

/** What Model Info and the GPT Lab view show about a model folder (plain file reads, no tensors). */
export interface ModelInfo {
  modelDir: string;
  preset?: string;
  parameters: number;
  layers: number;
  heads: number;
  embedding: number;
  context: number;
  vocab: number;
  step: number;
  tokensSeen: number;
  trainingMs: number;
  savedAt: string;
  valLoss?: number;
  valBpb?: number;
  initialValLoss?: number;
  /**
   * Bits per byte of the final model on every held-out token (or evenly spaced segments of them), each predicted
   * from at least `minContext` tokens: history.jsonl's `heldOutBpb` record, written after a finished pre-training.
   */
  heldOut?: { bitsPerByte: number; scoredTokens: number; totalTokens: number; minContext: number };
  backend?: string;
  /** Held-out completion quality, measured after training (completion-eval.json). */
  completions?: { positions: number; exactMatch: number; charsSaved: number; shown: number; mode: 'fim' | 'prefix' };
  corpus?: { files: number; bytes: number; languages: { language: string; bytes: number }[]; languageIds: string[] };
  /** history.jsonl's damaged lines (not JSON objects with a step, or a line cut by a crash), left out and counted. */
  historySkipped: number;
  /** Why history.jsonl could not be read at all (the figures from it are then missing), if it could not. */
  historyError?: string;
}

/** What Model Info and the GPT Lab view show, without loading weights. */
export async function readModelInfo(modelDir: string, backend?: string): Promise<ModelInfo | null> {
  if (!checkpointExists(modelDir)) return null;
  const info = await loadCheckpointConfig(modelDir);
  const cfg = info.config as unknown as ModelFolderConfig;
  const m = cfg.model;
  const { records, skipped, error } = await readHistoryLines(path.join(modelDir, 'history.jsonl'));
  const evals = records.filter(
    (r) => typeof r.valLoss === 'number' && typeof r.step === 'number' && (r.step as number) <= info.step,
  );
  const last = evals[evals.length - 1];
  const held = records.filter((r) => typeof r.heldOutBpb === 'number' && r.step === info.step).at(-1); // this model's own
  const trainer = info.trainer as { tokensSeen?: number; elapsedMs?: number; initialValLoss?: number | null };
  const corpus = cfg.corpus as
    | { files?: number; bytes?: number; languages?: { language: string; bytes: number }[]; languageIds?: string[] }
    | undefined;
  return {
    completions: await readCompletionEval(modelDir),
    modelDir,
    preset: cfg.preset,
    parameters: parameterCount(m),
    layers: m.nLayer,
    heads: m.nHead,
    embedding: m.nEmbd,
    context: m.contextLength,
    vocab: m.vocabSize,
    step: info.step,
    tokensSeen: trainer.tokensSeen ?? 0,
    trainingMs: trainer.elapsedMs ?? 0,
    savedAt: info.savedAt,
    valLoss: last?.valLoss as number | undefined,
    valBpb: last?.valBpb as number | undefined,
    initialValLoss: (evals[0]?.valLoss as number | undefined) ?? trainer.initialValLoss ?? undefined,
    ...(held && {
      heldOut: {
        bitsPerByte: held.heldOutBpb as number,
        scoredTokens: Number(held.heldOutScored),
        totalTokens: Number(held.heldOutTokens),
        minContext: Number(held.heldOutMinContext),
      },
    }),
    backend,
    historySkipped: skipped,
    ...(error !== undefined && { historyError: error }),
    corpus: corpus && {
      files: corpus.files ?? 0,
      bytes: corpus.bytes ?? 0,
      languages: (corpus.languages ?? []).slice(0, 5),
      languageIds: corpus.languageIds ?? [],
    },
  };
}

/**
 * history.jsonl's records with a numeric step, and how many lines were damaged (not JSON, not such a record,
 * or cut by a crash). A file that cannot be read gives no records and says why: Model Info still opens.
 */
export async function readHistoryLines(
  file: string,
): Promise<{ records: Record<string, unknown>[]; skipped: number; error?: string }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { records: [], skipped: 0 };
    return { records: [], skipped: 0, error: code ?? (e as Error).message };
  }
  const records: Record<string, unknown>[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const ok =
      typeof v === 'object' && v !== null && !Array.isArray(v) && Number.isFinite((v as { step?: unknown }).step);
    if (ok) records.push(v as Record<string, unknown>);
    else skipped++;
  }
  return { records, skipped };
}

async function readCompletionEval(modelDir: string): Promise<ModelInfo['completions']> {
  try {
    const j = JSON.parse(await fs.readFile(path.join(modelDir, 'completion-eval.json'), 'utf8'));
    const ok = ['positions', 'exactMatch', 'charsSaved', 'shown'].every((k) => typeof j[k] === 'number');
    return ok
      ? {
          positions: j.positions,
          exactMatch: j.exactMatch,
          charsSaved: j.charsSaved,
          shown: j.shown,
          mode: j.mode === 'fim' ? 'fim' : 'prefix',
        }
      : undefined;
  } catch {
    return undefined;
  }
}
