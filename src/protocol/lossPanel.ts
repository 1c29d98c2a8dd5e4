/** Messages between the loss panel webview and the extension host. */

/** One line of history.jsonl: a training-loss point, a validation point, or both. */
export interface MetricPoint {
  step: number;
  loss?: number;
  valLoss?: number;
  valBpb?: number;
  lr?: number;
  tokensPerSec?: number;
  /** Fine-tuning: share of completion tokens predicted right on held-out examples, 0..1. */
  tokenAccuracy?: number;
}

export interface PanelStatus {
  state: 'none' | 'training' | 'ready' | 'failed';
  text: string;
  /** While a run trains on several data-parallel replicas: how many, and the all-reduce's ms per step. */
  replicas?: { count: number; allReduceMs: number };
}

/** host → webview */
export type LossPanelInbound =
  /** notice: what went wrong reading history.jsonl (damaged lines, unreadable file), shown above the chart. */
  | { type: 'history'; points: MetricPoint[]; status: PanelStatus; notice?: string }
  | { type: 'point'; point: MetricPoint }
  | { type: 'status'; status: PanelStatus };

/** webview → host */
export type LossPanelOutbound = { type: 'ready' } | { type: 'command'; command: 'train' | 'stop' | 'resume' };

/** Data parallelism as every display says it: "2 replicas · all-reduce 3.1 ms/step"; undefined on one thread. */
export function replicasText(p: { replicas?: number; allReduceMs?: number }): string | undefined {
  if (!p.replicas || p.replicas < 2) return undefined;
  const ms = p.allReduceMs ?? NaN;
  return `${p.replicas} replicas · all-reduce ${Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(1) : ms.toFixed(0)) : '—'} ms/step`;
}
