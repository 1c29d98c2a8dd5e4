/**
 * A small lexical colouring for code in the panels (comments, strings, numbers, keywords), coloured with the
 * theme's debug-token colours. Not a grammar: enough to read a completion at a glance. No DOM here.
 */

export type TokenClass = 'comment' | 'string' | 'number' | 'keyword' | 'plain';

const KEYWORDS = new Set(
  (
    'abstract as async await break case catch class const continue def default del do elif else enum export ' +
    'extends false finally for from function if implements import in instanceof interface is lambda let new ' +
    'None not null of or and pass private protected public raise readonly return self static super switch this ' +
    'throw True False true try type typeof undefined var void while with yield fn pub struct impl use mut match'
  ).split(' '),
);

const HASH_COMMENTS = new Set(['python', 'shellscript', 'ruby', 'perl', 'r', 'yaml', 'toml', 'makefile', 'dockerfile']);

/** Splits `text` into coloured runs; concatenating the runs gives `text` back. */
export function highlight(text: string, languageId: string): { text: string; cls: TokenClass }[] {
  const hash = HASH_COMMENTS.has(languageId);
  const comment = hash ? '#[^\\n]*' : '\\/\\/[^\\n]*|\\/\\*[\\s\\S]*?(?:\\*\\/|$)';
  const re = new RegExp(
    `(${comment})|("(?:[^"\\\\\\n]|\\\\.)*"?|'(?:[^'\\\\\\n]|\\\\.)*'?|\`(?:[^\`\\\\]|\\\\.)*\`?)|(\\b\\d[\\d_]*(?:\\.\\d+)?(?:e[+-]?\\d+)?\\b)|([A-Za-z_$][\\w$]*)`,
    'g',
  );
  const out: { text: string; cls: TokenClass }[] = [];
  let at = 0;
  const push = (t: string, cls: TokenClass) => {
    if (!t) return;
    const last = out[out.length - 1];
    if (last && last.cls === cls) last.text += t;
    else out.push({ text: t, cls });
  };
  for (let m = re.exec(text); m; m = re.exec(text)) {
    push(text.slice(at, m.index), 'plain');
    const cls: TokenClass = m[1]
      ? 'comment'
      : m[2]
        ? 'string'
        : m[3]
          ? 'number'
          : KEYWORDS.has(m[4])
            ? 'keyword'
            : 'plain';
    push(m[0], cls);
    at = m.index + m[0].length;
  }
  push(text.slice(at), 'plain');
  return out;
}
