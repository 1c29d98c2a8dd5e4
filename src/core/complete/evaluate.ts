import { GptLabError } from '../errors';
import { Rng } from '../rng';

/** A completion engine under test: the text to insert at the cursor between `prefix` and `suffix`. */
export type CompleteFn = (prefix: string, suffix: string) => Promise<string> | string;

export interface CompletionExample {
  path: string;
  /** 1-based line of the cursor. */
  line: number;
  /** The last 40 characters before the cursor. */
  prefix: string;
  expected: string;
  suggested: string;
}

export interface CompletionEval {
  /** Cursor positions tried (fewer than asked when the files have fewer). */
  positions: number;
  /** Share of positions where the suggestion is exactly the rest of the line. */
  exactMatch: number;
  /** Share of all rest-of-line characters a user would have accepted (suggestions that are a prefix of it). */
  charsSaved: number;
  /** Share of positions with a non-empty suggestion. */
  shown: number;
  examples: CompletionExample[];
}

export interface EvaluateOptions {
  positions: number;
  seed: number;
  /** Examples to keep, spread over the positions (default 5). */
  examples?: number;
  /** Asked before each position: true ends the evaluation with EvaluationStopped (Stop means stop). */
  shouldStop?: () => boolean;
}

/** The evaluation was stopped before its end: it has no figures (a part of the positions would mislead). */
export class EvaluationStopped extends GptLabError {
  constructor() {
    super('The completion check was stopped.', 'STOPPED');
    this.name = 'EvaluationStopped';
  }
}

interface Cursor {
  file: number;
  offset: number;
  /** 0-based line index, and where the line's text ends (before `\r\n` or `\n`). */
  line: number;
  lineEnd: number;
}

/**
 * Completion quality on held-out files, as a user would meet it: at seeded cursor positions, ask for a
 * completion with the text before the cursor and the file after the cursor line, and compare its first line
 * with the real rest of the line.
 */
export async function evaluateCompletions(
  complete: CompleteFn,
  files: { path: string; text: string }[],
  opts: EvaluateOptions,
): Promise<CompletionEval> {
  const cursors = sampleCursors(files, opts.positions, opts.seed);
  let exact = 0;
  let shown = 0;
  let saved = 0;
  let total = 0;
  const rows: CompletionExample[] = [];
  for (const c of cursors) {
    if (opts.shouldStop?.()) throw new EvaluationStopped();
    const text = files[c.file].text;
    const expected = text.slice(c.offset, c.lineEnd).trimEnd();
    // The suffix starts at the line break: the rest of this line is what the model is asked to write.
    const raw = await complete(text.slice(0, c.offset), text.slice(c.lineEnd));
    // A generation cut short by a stop is no suggestion to score.
    if (opts.shouldStop?.()) throw new EvaluationStopped();
    const suggested = raw.split(/\r\n|\n|\r/, 1)[0].trimEnd();
    if (suggested === expected) exact++;
    if (suggested !== '') shown++;
    // Characters a user would have accepted: only a suggestion that is a prefix of the real text saves any.
    if (suggested !== '' && expected.startsWith(suggested)) saved += suggested.length;
    total += expected.length;
    rows.push({
      path: files[c.file].path,
      line: c.line + 1,
      prefix: text.slice(0, c.offset).slice(-40),
      expected,
      suggested,
    });
  }
  const n = cursors.length;
  const want = Math.min(n, opts.examples ?? 5);
  return {
    positions: n,
    exactMatch: n ? exact / n : 0,
    charsSaved: total ? saved / total : 0,
    shown: n ? shown / n : 0,
    examples: Array.from({ length: want }, (_, j) => rows[Math.floor((j * n) / want)]),
  };
}

/** Up to `count` distinct cursor positions, uniform over all candidates, in file order. */
function sampleCursors(files: { text: string }[], count: number, seed: number): Cursor[] {
  const perFile = files.map((f) => {
    let n = 0;
    forEachCursor(f.text, () => n++);
    return n;
  });
  const total = perFile.reduce((a, b) => a + b, 0);
  const picked = [...pickDistinct(total, Math.max(0, Math.min(count, total)), new Rng(seed))].sort((a, b) => a - b);
  const out: Cursor[] = [];
  let base = 0;
  let next = 0;
  files.forEach((f, file) => {
    let i = base;
    forEachCursor(f.text, (offset, line, lineEnd) => {
      if (picked[next] === i++) {
        out.push({ file, offset, line, lineEnd });
        next++;
      }
    });
    base += perFile[file];
  });
  return out;
}

/** `k` distinct integers in [0, n) (Floyd's algorithm: k draws, whatever n is). */
function pickDistinct(n: number, k: number, rng: Rng): Set<number> {
  const s = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = rng.int(j + 1);
    s.add(s.has(t) ? j : t);
  }
  return s;
}

/** After an identifier character or a space: where a person pauses and a completion is asked for. */
const BOUNDARY = /[\w$ \t]/;

/**
 * Calls `visit` for each cursor position worth testing: inside a non-blank line, at the start of its text or
 * after an identifier character or space, with something left on the line after it.
 */
function forEachCursor(text: string, visit: (offset: number, line: number, lineEnd: number) => void): void {
  let line = 0;
  for (let start = 0; start <= text.length; line++) {
    let eol = text.indexOf('\n', start);
    if (eol < 0) eol = text.length;
    const lineEnd = eol > start && text[eol - 1] === '\r' ? eol - 1 : eol;
    const s = text.slice(start, lineEnd);
    const first = start + (s.length - s.trimStart().length);
    const last = start + s.trimEnd().length;
    for (let p = first; p < last; p++) if (p === first || BOUNDARY.test(text[p - 1])) visit(p, line, lineEnd);
    start = eol + 1;
  }
}
