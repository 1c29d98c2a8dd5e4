import * as os from 'node:os';
import { currentBackend } from '../../backend';
import { GPTConfig, parameterCount } from '../../model/config';
import type { TrainConfig } from '../config';

/** 'auto': one replica per core where that trains faster; a number: at most that many. */
export type ReplicaRequest = number | 'auto';

/**
 * Training FLOPs a replica needs per step for 'auto' to offer it (auto then times both and keeps the faster). Below
 * this the step is mostly tfjs's per-op overhead, which every replica pays in full, and the handshake and
 * all-reduce eat what the split saves. On an idle 2-core machine (bench --peer, 2026-12-02 08:29) 2 replicas
 * trained config A (~0.9 GFLOP a step) ×1.22 as fast as one, the tiny preset (vocab 2,048, ~2.2 GFLOP) ×1.2,
 * config B and small (~15 GFLOP) ×1.8; under load they can lose, which the timing catches.
 */
export const MIN_REPLICA_GFLOP = 1;

/** Training FLOPs per token: 6·N (parameters, no position table) + 12·L·d·T (attention). */
export function flopsPerToken(m: GPTConfig): number {
  return 6 * parameterCount({ ...m, positionEncoding: 'sinusoidal' }) + 12 * m.nLayer * m.nEmbd * m.contextLength;
}

/**
 * How many data-parallel replicas a run uses: what was asked, no more than the cores and the batch's rows, and 1
 * where replicas cannot help — a native or GPU backend already uses the whole machine (and tfjs-node cannot load
 * in a second thread). 'auto' also gives each replica at least MIN_REPLICA_GFLOP of work per step.
 */
export function replicaCount(cfg: TrainConfig, asked: ReplicaRequest, cores = os.availableParallelism()): number {
  const backend = currentBackend()?.name ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') return 1;
  let n = asked === 'auto' ? cores : Math.floor(asked);
  if (asked === 'auto') {
    const stepGflop = (cfg.batchSize * cfg.model.contextLength * flopsPerToken(cfg.model)) / 1e9;
    n = Math.min(n, Math.floor(stepGflop / MIN_REPLICA_GFLOP));
  }
  return Math.max(1, Math.min(n, cores, cfg.batchSize));
}

/** GPT_LAB_REPLICAS as the extension sets it: 'auto', a positive whole number, or (absent, malformed) 1. */
export function replicasFromEnv(v: string | undefined): ReplicaRequest {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}
