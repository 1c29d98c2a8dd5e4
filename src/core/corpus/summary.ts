/** Corpus statistics and their one-line human form. */
import { SKIP_CATEGORIES, type CorpusFile, type CorpusSummary, type SkipCategory } from './types';

export function emptySkipCounts(): Record<SkipCategory, number> {
  const counts = {} as Record<SkipCategory, number>;
  for (const category of SKIP_CATEGORIES) counts[category] = 0;
  return counts;
}

/** Builds the summary from kept files and skip counts (exported so the host can do the same). */
export function summarizeCorpus(
  files: readonly Pick<CorpusFile, 'bytes' | 'language'>[],
  skipped: Record<SkipCategory, number>,
): CorpusSummary {
  const byLanguage = new Map<string, { language: string; files: number; bytes: number }>();
  let bytes = 0;
  for (const file of files) {
    bytes += file.bytes.length;
    const share = byLanguage.get(file.language) ?? { language: file.language, files: 0, bytes: 0 };
    share.files++;
    share.bytes += file.bytes.length;
    byLanguage.set(file.language, share);
  }
  const languages = [...byLanguage.values()].sort(
    (a, b) => b.bytes - a.bytes || (a.language < b.language ? -1 : a.language > b.language ? 1 : 0),
  );
  return { files: files.length, bytes, languages, skipped: { ...skipped } };
}

/** "412 files, 3.1 MB — TypeScript 78%, JSON 12%, Markdown 6% (skipped: 3 binary, 20 ignored)" */
export function formatCorpusSummary(summary: CorpusSummary, topLanguages = 3): string {
  let text = `${plural(summary.files, 'file')}, ${formatBytes(summary.bytes)}`;
  if (summary.bytes > 0) {
    const shares = summary.languages
      .slice(0, topLanguages)
      .map((l) => `${l.language} ${formatPercent(l.bytes / summary.bytes)}`);
    const rest = summary.languages.slice(topLanguages);
    if (rest.length > 0) {
      const restBytes = rest.reduce((sum, l) => sum + l.bytes, 0);
      shares.push(`${plural(rest.length, 'other')} ${formatPercent(restBytes / summary.bytes)}`);
    }
    text += ` — ${shares.join(', ')}`;
  }
  const skipped = formatSkipped(summary.skipped);
  return skipped ? `${text} (skipped: ${skipped})` : text;
}

/** "3 binary, 20 ignored" — non-zero categories in a fixed order; '' when nothing was skipped. */
export function formatSkipped(skipped: Record<SkipCategory, number>): string {
  return SKIP_CATEGORIES.filter((c) => skipped[c] > 0)
    .map((c) => `${skipped[c]} ${c}`)
    .join(', ');
}

/** Decimal units (1 MB = 1 000 000 bytes), as file managers show sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatPercent(fraction: number): string {
  const percent = Math.round(fraction * 100);
  return percent === 0 ? '<1%' : `${percent}%`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
