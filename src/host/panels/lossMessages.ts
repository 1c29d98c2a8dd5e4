import type { LossPanelOutbound, MetricPoint } from '../../protocol/lossPanel';

/** Every message from a webview is untrusted: check its shape before acting on it. */
export function parseLossPanelOutbound(m: unknown): LossPanelOutbound | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const msg = m as Record<string, unknown>;
  switch (msg.type) {
    case 'ready':
      return { type: 'ready' };
    case 'command':
      return msg.command === 'train' || msg.command === 'stop' || msg.command === 'resume'
        ? { type: 'command', command: msg.command }
        : undefined;
    default:
      return undefined;
  }
}

/** history.jsonl records → chart points (malformed records dropped). */
export function toMetricPoints(records: Record<string, unknown>[]): MetricPoint[] {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const out: MetricPoint[] = [];
  for (const r of records) {
    const step = num(r.step);
    if (step === undefined) continue;
    out.push({
      step,
      loss: num(r.loss),
      valLoss: num(r.valLoss),
      valBpb: num(r.valBpb),
      lr: num(r.lr),
      tokensPerSec: num(r.tokensPerSec),
    });
  }
  return out;
}
