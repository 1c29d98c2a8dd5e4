import type { BackendName } from '../../backend';
import type { KernelModules } from '../../kernels/precompiled';
import type { GPTConfig } from '../../model/config';
import type { HeadSpec } from '../../model/gpt';
import type { TrainConfig } from '../config';
import type { SharedLayout } from './shared';

/** What a replica worker starts from (workerData): the loop's model, optimizer state and shared buffer. */
export interface ReplicaInit {
  rank: number;
  buffer: SharedArrayBuffer;
  layout: SharedLayout;
  backend: BackendName;
  model: GPTConfig;
  heads: HeadSpec[];
  weights: Map<string, Float32Array>;
  /** The optimizer's config (AdamW or Muon) and its state, so a resumed run continues with the same moments. */
  train: TrainConfig;
  optimizerState: Map<string, Float32Array>;
  optimizerStep: number;
  /** GradientLayout.signature() of the loop's model: the worker refuses to start if its own differs. */
  signature: string;
  /** GPT Lab's wasm modules as the loop's thread compiled them: the replica adopts them and compiles none. */
  kernelModules: KernelModules;
  /** Throwaway passes on its shard's shape before it says it is ready (warmup.ts). */
  warmup: boolean;
}

/** worker → loop (postMessage); everything else goes through shared memory. */
export type ReplicaMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'snapshot'; weights: Map<string, Float32Array>; optimizerStep: number };
