/** What the editor knows around the cursor, for cutting a raw completion to what should be shown. */
export interface CompletionContext {
  /** Text of the cursor line before the cursor. */
  linePrefix: string;
  /** Text of the cursor line after the cursor. */
  lineSuffix: string;
  /** A few lines above the cursor line, nearest last. */
  previousLines: string[];
  /** A few lines below the cursor line, nearest first. */
  nextLines: string[];
  /** Allow a block of several lines (see wantsMultiline); otherwise one line. */
  multiline: boolean;
}

export interface TrimOptions {
  /** Most lines a multi-line completion keeps (default: no limit beyond the block rules). */
  maxLines?: number;
}

/** Line endings that open a block, so a completion on the next, empty line may fill several lines. */
const BLOCK_OPENER = /(?:[{([:]|=>|->|\bdo|\bthen)$/;

/** True when the cursor line is blank and the last non-blank line above opens a block. */
export function wantsMultiline(linePrefix: string, previousLines: string[]): boolean {
  if (linePrefix.trim() !== '') return false;
  const above = lastNonBlank(previousLines);
  return above !== undefined && BLOCK_OPENER.test(above.trimEnd());
}

/**
 * Cuts a model's raw output to the completion worth showing, with the rules local-completion tools (Tabby,
 * Continue, llama.vscode) use: one line, or in multi-line mode one block; no repeats; nothing the document
 * already has after the cursor.
 */
export function trimCompletion(raw: string, ctx: CompletionContext, opts: TrimOptions = {}): string {
  // CRLF (and a lone CR) become LF: the editor converts inserted text to the document's line ending.
  let lines = raw.replace(/\r\n?/g, '\n').split('\n');
  // Single line by default: everything after the first line break goes.
  lines = ctx.multiline ? lines.slice(0, Math.max(1, opts.maxLines ?? Infinity)) : lines.slice(0, 1);
  lines = keepUntilStop(lines, ctx);
  if (lines.length > 0) lines[lines.length - 1] = dropSuffixOverlap(lines[lines.length - 1], ctx.lineSuffix);
  // Trailing whitespace-only lines add nothing; nor does trailing space when the line ends at the cursor.
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  let text = lines.join('\n');
  if (ctx.lineSuffix.trim() === '') text = text.trimEnd();
  // Only whitespace is no completion.
  return text.trim() === '' ? '' : text;
}

/** The lines up to (not including) the first one where a stop rule fires. */
function keepUntilStop(lines: string[], ctx: CompletionContext): string[] {
  const below = firstNonBlank(ctx.nextLines);
  let previous = lastNonBlank(ctx.previousLines);
  // The block's indentation: the cursor line's, or its first non-blank line's if deeper.
  let blockIndent = indentOf(ctx.linePrefix + lines[0]);
  let seenText = false;
  let depth = 0;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    // The cursor line is judged whole: what is typed before the cursor plus the first generated line.
    const full = i === 0 ? ctx.linePrefix + lines[i] : lines[i];
    if (full.trim() === '') {
      out.push(lines[i]);
      continue;
    }
    if (i > 0) {
      // End of block: a line indented less than the block.
      if (indentOf(full) < blockIndent) break;
      // End of block: a line that closes more brackets than the block opened (a bracket from before it).
      depth = bracketDepth(full, depth, false);
      if (depth < 0) break;
    } else {
      // The cursor line may close brackets opened before the completion starts.
      depth = bracketDepth(lines[0], 0, true);
    }
    // Repetition: a line that repeats the previous one (generated, or the line above the cursor).
    if (previous !== undefined && sameLine(full, previous)) break;
    // The document already has this line right after the cursor line: stop before duplicating it.
    if (below !== undefined && sameLine(full, below)) break;
    if (!seenText) blockIndent = Math.max(blockIndent, indentOf(full));
    seenText = true;
    previous = full;
    out.push(lines[i]);
  }
  return out;
}

/**
 * Text after the cursor on the same line follows whatever is inserted, so an ending that repeats its start
 * goes (lineSuffix `)` and completion `a, b)` → `a, b`).
 */
function dropSuffixOverlap(last: string, lineSuffix: string): string {
  const s = lineSuffix.trimEnd();
  for (let k = Math.min(last.length, s.length); k > 0; k--) {
    if (last.endsWith(s.slice(0, k))) return last.slice(0, last.length - k);
  }
  return last;
}

/**
 * Equal once trimmed; lines without a word character (`}`, `});`) must also match in indentation, since
 * nested blocks legitimately close with the same text at different depths.
 */
function sameLine(a: string, b: string): boolean {
  if (a.trim() !== b.trim()) return false;
  return /\w/.test(a) || a.trimEnd() === b.trimEnd();
}

const OPEN = '([{';
const CLOSE = ')]}';

/** Bracket depth after `line`, starting from `depth`; brackets inside one-line string literals do not count. */
function bracketDepth(line: string, depth: number, floorAtZero: boolean): number {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
    } else if (OPEN.includes(c)) {
      depth++;
    } else if (CLOSE.includes(c)) {
      depth = floorAtZero ? Math.max(0, depth - 1) : depth - 1;
    }
  }
  return depth;
}

/** Leading whitespace characters (the whole length for a blank line). */
function indentOf(line: string): number {
  const m = /^[ \t]*/.exec(line);
  return m ? m[0].length : 0;
}

function lastNonBlank(lines: string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trim() !== '') return lines[i];
  return undefined;
}

function firstNonBlank(lines: string[]): string | undefined {
  return lines.find((l) => l.trim() !== '');
}
