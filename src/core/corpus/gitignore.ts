import ignore, { Ignore } from 'ignore';

/** The rules of one .gitignore, which apply below its folder `base` ('' = the root). */
export interface GitignoreLevel {
  base: string;
  rules: Ignore;
}

export function gitignoreLevel(base: string, text: string): GitignoreLevel {
  return { base, rules: ignore({ ignorecase: false }).add(text) };
}

/** Git's precedence: the last matching rule wins, and deeper .gitignore files come later,
 *  so a nested `!keep.log` re-includes what the root's `*.log` ignored. `levels` are ordered root first. */
export function isGitignored(levels: readonly GitignoreLevel[], rel: string): boolean {
  let ignored = false;
  for (const { base, rules } of levels) {
    if (base !== '' && !rel.startsWith(base + '/')) continue;
    const result = rules.test(base === '' ? rel : rel.slice(base.length + 1));
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}
