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
}

/** host → webview */
export type LossPanelInbound =
  /** notice: what went wrong reading history.jsonl (damaged lines, unreadable file), shown above the chart. */
  | { type: 'history'; points: MetricPoint[]; status: PanelStatus; notice?: string }
  | { type: 'point'; point: MetricPoint }
  | { type: 'status'; status: PanelStatus };

/** webview → host */
export type LossPanelOutbound = { type: 'ready' } | { type: 'command'; command: 'train' | 'stop' | 'resume' };
