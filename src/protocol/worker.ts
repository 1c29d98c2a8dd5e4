/**
 * The messages between the extension host and the worker process (which owns every tensor).
 * Written as a type map of [params, result] per request, so a request's result type is checked at compile time.
 * Only plain data and typed arrays cross: the process channel uses structured clone ("advanced" serialization).
 */
import type { CorpusSummary } from '../core/corpus';
import type { AttentionData, StepData } from './inspect';
import type { TrainConfig } from '../core/train/config';
import type { EvalResult, TrainProgress, TrainResult } from '../core/train/trainer';
import type { SftExample } from '../core/data/examples';
import type { FinetuneResult } from '../core/train/finetune';
import type { Preference } from '../core/data/preferences';
import type { StageResult } from '../core/train/stage';
import type { Comparison } from './rank';
import type { ExportResult, ImportResult } from '../core/interop';

export interface CorpusPayload {
  root: string;
  files: { path: string; bytes: Uint8Array }[];
  summary: CorpusSummary;
  /** VS Code language ids of the files (completions are offered in these). */
  languageIds: string[];
}

/** Stage 2: fine-tune the version in parentDir into a new version in outDir (see core/train/finetune). */
export interface FinetuneParams {
  parentDir: string;
  outDir: string;
  examples: SftExample[];
  /** Recorded in the new version's lineage. */
  dataFile?: string;
  maxSteps?: number;
  maxMinutes?: number;
  learningRate?: number;
  /** Workspace files whose rows are mixed in (a share of mixShare), so the model keeps the repository. */
  corpusFiles?: { path: string; bytes: Uint8Array }[];
  mixShare?: number;
}
/** The fine-tuning result: metrics, and the before/after table (absent when the run was stopped). */
export type FinetuneOutcome = FinetuneResult;

/** Stage 3: K distinct completions of one prompt for the ranking board (sampled at a temperature). */
export interface RankParams {
  modelDir: string;
  prompt: string;
  count: number;
  temperature: number;
  maxTokens: number;
  seed: number;
}
export interface RankResult {
  /** Distinct and non-empty; fewer than `count` when the model kept repeating itself. */
  completions: string[];
  rounds: number;
  ms: number;
  step: number;
}

/** Stage 3: a reward model, DPO or PPO from the version in parentDir into a new version in outDir (core/train/align). */
export interface AlignParams {
  kind: 'reward' | 'dpo' | 'ppo';
  parentDir: string;
  outDir: string;
  /** reward and dpo: the preference pairs. */
  pairs?: Preference[];
  /** ppo: the prompts to roll out from. */
  prompts?: { prompt: string }[];
  /** ppo: the reward model's version folder. */
  rewardDir?: string;
  /** ppo: workspace files whose line starts are rolled out from too. */
  corpusFiles?: { path: string; bytes: Uint8Array }[];
  /** Recorded in the new version's lineage. */
  dataFile?: string;
  maxSteps?: number;
  maxMinutes?: number;
  learningRate?: number;
  beta?: number;
  klCoef?: number;
  /** Continue the run in outDir from its checkpoint (the budget given is trained on top; none: finish its own). */
  resume?: boolean;
}
export type AlignOutcome = StageResult;

/** The alignment panel: parent vs aligned version on held-out prompts of dataFile, scored by rewardDir if given. */
export interface CompareParams {
  parentDir: string;
  versionDir: string;
  rewardDir?: string;
  dataFile: string;
  maxPrompts: number;
  maxTokens: number;
}

/** "Export for a Cluster": a version as a PyTorch-ready folder (core/interop/export), the workspace's files as its corpus. */
export interface ExportModelParams {
  modelDir: string;
  outDir: string;
  /** The workspace files to tokenize into train.bin/val.bin (none: the corpus the version was trained on, if there). */
  corpus?: { root: string; files: { path: string; bytes: Uint8Array }[] };
}
export type ExportModelResult = ExportResult;

/** "Import a Trained Model": a GPT Lab export (trained further by torchrun) or a GPT-2 checkpoint into a new version. */
export interface ImportModelParams {
  fromDir: string;
  /** The new version's folder: must not hold a model yet. */
  outDir: string;
  /**
   * Workspace files: the new version's completions are measured on the held-out ones (as after training), so it
   * serves them in its better prompt format at once.
   */
  corpusFiles?: { path: string; bytes: Uint8Array }[];
}
export type ImportModelResult = Omit<ImportResult, 'toGpt2'>;

/** host → worker requests: method → [params, result]. */
export interface WorkerRequests {
  /** Where the worker runs, which backend it chose. */
  hello: [Record<string, never>, { pid: number; backend: string; skipped: string[] }];
  /** Pre-train (or resume) into modelDir; progress arrives as events; resolves when the run ends. */
  train: [{ corpus: CorpusPayload; config: TrainConfig; modelDir: string; resume: boolean }, TrainResult];
  /** Fine-tune into a new version; progress and held-out evaluations arrive as events, like `train`'s. */
  finetune: [FinetuneParams, FinetuneOutcome];
  /** Train a reward model, or align with DPO or PPO, into a new version; progress arrives as events. */
  align: [AlignParams, AlignOutcome];
  /** K distinct completions to rank (from the newest checkpoint of modelDir). */
  rank: [RankParams, RankResult];
  /** Parent vs aligned version on held-out prompts, scored by a reward model. */
  compare: [CompareParams, Omit<Comparison, 'version' | 'parent' | 'reward'>];
  /** Ask a running training to stop at the next step boundary and save. */
  stop: [Record<string, never>, { stopping: boolean }];
  /** The raw middle at a cursor, from the newest checkpoint (greedy; one line unless multiline). */
  complete: [
    { modelDir: string; prefix: string; suffix: string; maxTokens: number; multiline: boolean },
    { text: string; tokens: number; stopReason: string; ms: number; step: number; fim: boolean },
  ];
  /** Attention of every layer and head over a text (the attention inspector). */
  inspect: [{ modelDir: string; text: string }, AttentionData];
  /** The next-token distribution and logit lens after a prompt given as text or token ids (the stepper). */
  step: [{ modelDir: string; text?: string; ids?: number[] }, StepData];
  /** Write a version as Hugging Face GPT-2 weights, tokenizer and train.bin/val.bin for scale/train_ddp.py. */
  exportModel: [ExportModelParams, ExportModelResult];
  /** Read an export (or a GPT-2 checkpoint) into a new version's folder, which is locked meanwhile. */
  importModel: [ImportModelParams, ImportModelResult];
  /** Remove everything GPT Lab wrote in a model folder (checkpoint, history, completion figures). */
  deleteModel: [{ modelDir: string }, { deleted: boolean }];
  /** Abort the request with this id (a keystroke made a completion stale). */
  cancel: [{ id: number }, { cancelled: boolean }];
}
export type WorkerMethod = keyof WorkerRequests;

export interface RequestMessage<M extends WorkerMethod = WorkerMethod> {
  kind: 'request';
  id: number;
  method: M;
  params: WorkerRequests[M][0];
}

export type ResponseMessage =
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number; ok: false; error: { code: string; message: string } };

/** worker → host notifications. */
export type WorkerEvent =
  | { kind: 'event'; event: 'progress'; data: TrainProgress }
  | { kind: 'event'; event: 'eval'; data: EvalResult }
  | { kind: 'event'; event: 'checkpoint'; data: { step: number } }
  | { kind: 'event'; event: 'log'; data: { message: string } };

export type HostToWorker = RequestMessage;
export type WorkerToHost = ResponseMessage | WorkerEvent;
