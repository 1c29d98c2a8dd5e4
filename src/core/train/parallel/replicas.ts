import * as os from 'node:os';
import { currentBackend } from '../../backend';
import type { TrainConfig } from '../config';

/** 'auto': one replica per core where that trains faster; a number: at most that many. */
export type ReplicaRequest = number | 'auto';

/**
 * How many data-parallel replicas a run uses: what was asked, no more than the cores and the batch's rows, and 1
 * where replicas cannot help — a native or GPU backend already uses the whole machine, and tfjs-node cannot load
 * in a second thread.
 */
export function replicaCount(cfg: TrainConfig, asked: ReplicaRequest): number {
  const backend = currentBackend()?.name ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') return 1;
  const cores = os.availableParallelism();
  const n = asked === 'auto' ? cores : Math.floor(asked);
  return Math.max(1, Math.min(n, cores, cfg.batchSize));
}

/** GPT_LAB_REPLICAS as the extension sets it: 'auto', a positive whole number, or (absent, malformed) 1. */
export function replicasFromEnv(v: string | undefined): ReplicaRequest {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}
