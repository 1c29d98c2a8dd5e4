/** How model versions and the before/after table read in the GPT Lab view and pages. No 'vscode' here. */
import type { Comparison } from '../core/train/compare';
import type { VersionInfo } from '../core/versions';

const STAGES: Record<string, string> = {
  pretrain: 'pre-trained',
  sft: 'fine-tuned (SFT)',
  reward: 'reward model',
  dpo: 'aligned (DPO)',
  ppo: 'aligned (PPO)',
  import: 'imported',
};

export function stageLabel(stage: string): string {
  return STAGES[stage] ?? stage;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '—');

/** The number that says how a version did: token accuracy for SFT, held-out loss for pre-training. */
export function keyMetric(v: VersionInfo): string | undefined {
  const m = v.metrics;
  if (typeof m.tokenAccuracy === 'number') return `token accuracy ${pct(m.tokenAccuracy)}`;
  if (typeof m.valLoss === 'number') return `val loss ${m.valLoss.toFixed(3)}`;
  return undefined;
}

export function shortDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** "fine-tuned (SFT) · from base · Dec 2, 01:40 · token accuracy 83%". */
export function versionSummary(v: VersionInfo, parentName: string | undefined): string {
  return [
    stageLabel(v.stage),
    parentName ? `from ${parentName}` : '',
    shortDate(v.date),
    keyMetric(v) ?? `step ${v.step}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** A table cell: HTML-escaped inline code, newlines shown as ⏎, long text shortened. */
function cell(s: string, max = 120): string {
  const t = s.replace(/\r?\n/g, '⏎').replace(/\t/g, '  ');
  const short = t.length > max ? t.slice(0, max - 1) + '…' : t;
  const esc = short
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '&#124;')
    .replace(/`/g, '&#96;');
  return esc.trim() === '' ? '<em>(nothing)</em>' : `<code>${esc}</code>`;
}

/** The before/after table of a fine-tuning as a Markdown page (shown in VS Code's Markdown preview). */
export function comparisonMarkdown(
  c: Comparison,
  names: { parent: string; child: string },
  heldOut: boolean | undefined,
): string {
  const mark = (ok: boolean) => (ok ? '✓' : '✗');
  const rows = c.rows.map(
    (r) =>
      `| ${cell(r.prompt.slice(-160))} | ${cell(r.expected)} | ${mark(r.parentExact)} ${cell(r.parent)} | ${mark(r.childExact)} ${cell(r.child)} |`,
  );
  const n = c.rows.length;
  const on =
    heldOut === false
      ? `the ${n} training example${n === 1 ? '' : 's'} (too few to hold any out)`
      : `${n} held-out example${n === 1 ? '' : 's'}`;
  return `# Before and after fine-tuning: ${names.parent} → ${names.child}

On ${on}: what each version writes after the prompt (greedy, the most likely token each time), beside the
completion you gave.

| | ${names.parent} (before) | ${names.child} (after) |
|---|---|---|
| Exact match (the whole completion right) | ${pct(c.parent.exactMatch)} | ${pct(c.child.exactMatch)} |
| Token accuracy (next token right, given the ones before) | ${pct(c.parent.tokenAccuracy)} | ${pct(c.child.tokenAccuracy)} |

| Prompt (end) | Your completion | ${names.parent} | ${names.child} |
|---|---|---|---|
${rows.join('\n')}

⏎ marks a line break.
`;
}
