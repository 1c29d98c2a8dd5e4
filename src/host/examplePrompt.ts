/**
 * What "GPT Lab: Add Example" takes as the prompt when nothing is selected: the comment on the cursor's line
 * (with the comment lines around it), or else the function signature above the cursor (with the comments right
 * above it). Plain text in, plain text out: no 'vscode' here, so unit tests can check it.
 */

const COMMENT = /^\s*(\/\/|#(?!include|define|!)|\/\*|\*|--|;|"""|''')/;
const SIGNATURE =
  /^\s*((export|pub|public|private|protected|static|async|default|override|abstract)\s+)*(function\b|def\b|fn\b|func\b|class\b|interface\b|[\w$]+\s*\([^)]*\)\s*(:\s*[^={]+)?\s*\{\s*$)|=>\s*\{\s*$/;
/** How far above the cursor a signature is looked for. */
const MAX_LINES_UP = 60;

export function isCommentLine(line: string): boolean {
  return COMMENT.test(line) && line.trim() !== '';
}

export function isSignatureLine(line: string): boolean {
  return SIGNATURE.test(line);
}

/** The comment lines directly above `line` (exclusive), first line first. */
function commentsAbove(lines: string[], line: number): number {
  let start = line;
  while (start > 0 && isCommentLine(lines[start - 1])) start--;
  return start;
}

/** The prompt for the cursor on `line` (0-based) of `lines`, ending with a newline; undefined when none fits. */
export function promptAtLine(lines: string[], line: number): string | undefined {
  if (line < 0 || line >= lines.length) return undefined;
  if (isCommentLine(lines[line])) {
    let end = line;
    while (end + 1 < lines.length && isCommentLine(lines[end + 1])) end++;
    return lines.slice(commentsAbove(lines, line), end + 1).join('\n') + '\n';
  }
  for (let l = line; l >= 0 && l > line - MAX_LINES_UP; l--) {
    if (isSignatureLine(lines[l])) return lines.slice(commentsAbove(lines, l), l + 1).join('\n') + '\n';
  }
  return undefined;
}

/**
 * The prompt for a selection: its text, with the line break that follows it in the file when it ends at the end
 * of a line (the completion starts on the next line, as it would in the file).
 */
export function promptFromSelection(text: string, endsAtLineEnd: boolean): string {
  return endsAtLineEnd && !text.endsWith('\n') ? text + '\n' : text;
}

/** The completion a draft holds: what follows the prompt. undefined when the prompt at its top was changed. */
export function completionInDraft(draft: string, prompt: string): string | undefined {
  const text = draft.replace(/\r\n/g, '\n');
  const p = prompt.replace(/\r\n/g, '\n');
  return text.startsWith(p) ? text.slice(p.length) : undefined;
}
