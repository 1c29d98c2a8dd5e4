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
      tokenAccuracy: num(r.tokenAccuracy),
    });
  }
  return out;
}

/**
 * history.jsonl as the chart sees it: its points, and a notice for the user when lines were damaged or the file
 * could not be read (the chart then shows what it could; training and the model are not affected).
 */
export function historyView(read: { records: Record<string, unknown>[]; warnings: string[] } | { error: unknown }): {
  points: MetricPoint[];
  notice?: string;
} {
  if ('error' in read) {
    const why = read.error instanceof Error ? read.error.message : String(read.error);
    return {
      points: [],
      notice: `The training history (history.jsonl) could not be read, so the chart starts empty: ${why}. The model itself is not affected; a new training run writes a new history.`,
    };
  }
  const points = toMetricPoints(read.records);
  const noStep = read.records.length - points.length;
  const problems = [...read.warnings];
  if (noStep > 0) problems.push(`${noStep} ${noStep === 1 ? 'record has' : 'records have'} no step number`);
  if (problems.length === 0) return { points };
  const shown = problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  return {
    points,
    notice: `Part of the training history (history.jsonl) is damaged and left out of the chart: ${shown}. The model itself is not affected.`,
  };
}
