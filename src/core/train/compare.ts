import { healingText, tokensStartingWith } from '../complete/heal';
import type { SftExample } from '../data/examples';
import type { GPT } from '../model/gpt';
import { generateAsync } from '../sample';
import type { Tokenizer } from '../tokenizer';
import { completionMetrics, encodeExample } from './sftTask';

export interface CompareRow {
  prompt: string;
  expected: string;
  parent: string;
  child: string;
  parentExact: boolean;
  childExact: boolean;
}

export interface ModelScore {
  /** Share of examples whose greedy completion equals the expected one (trailing whitespace aside). */
  exactMatch: number;
  /** Share of completion tokens the model predicts (argmax) given the expected ones before them. */
  tokenAccuracy: number;
}

export interface Comparison {
  rows: CompareRow[];
  parent: ModelScore;
  child: ModelScore;
}

/** Greedy completion of the prompt in the plain form: what sampling from the prompt writes. */
export async function greedyCompletion(model: GPT, tok: Tokenizer, ex: SftExample): Promise<string> {
  const ctx = model.config.contextLength;
  // Token healing as completions (and training, encodeExample) do it: the backed-off text must come first.
  let heal = healingText(tok, ex.prompt);
  const firstTokens = heal ? tokensStartingWith(tok, heal) : undefined;
  if (!firstTokens?.size) heal = '';
  const want = tok.encode(heal + ex.completion).length + 1;
  // The prompt is cut as training cut it, so the completion starts where it learned to.
  const prompt = tok.encode(ex.prompt.slice(0, ex.prompt.length - heal.length)).slice(-Math.max(1, ctx + 1 - want));
  const r = await generateAsync(model, tok, prompt.length ? prompt : [tok.specials.endOfText], {
    maxTokens: want + 4,
    temperature: 0,
    firstTokens: heal ? firstTokens : undefined,
    suppressTokens: [tok.specials.fimPrefix, tok.specials.fimSuffix, tok.specials.fimMiddle],
  });
  return heal && r.text.startsWith(heal) ? r.text.slice(heal.length) : r.text;
}

const same = (a: string, b: string) => a.trimEnd() === b.trimEnd();

/** The before/after table of a fine-tuning: parent and new version side by side on held-out examples. */
export async function compareOnExamples(
  parent: GPT,
  child: GPT,
  tok: Tokenizer,
  examples: SftExample[],
): Promise<Comparison> {
  const rows: CompareRow[] = [];
  for (const ex of examples) {
    const [p, c] = [await greedyCompletion(parent, tok, ex), await greedyCompletion(child, tok, ex)];
    rows.push({
      prompt: ex.prompt,
      expected: ex.completion,
      parent: p,
      child: c,
      parentExact: same(p, ex.completion),
      childExact: same(c, ex.completion),
    });
  }
  const score = async (m: GPT, exact: (r: CompareRow) => boolean): Promise<ModelScore> => {
    const enc = examples.map((e) => encodeExample(tok, e, m.config.contextLength + 1).plain);
    return {
      exactMatch: rows.length ? rows.filter(exact).length / rows.length : NaN,
      tokenAccuracy: (await completionMetrics(m, enc, tok.specials.endOfText, 8)).accuracy,
    };
  };
  return {
    rows,
    parent: await score(parent, (r) => r.parentExact),
    child: await score(child, (r) => r.childExact),
  };
}

/** The table as text for the CLI and the log (long cells shortened, newlines shown as ⏎). */
export function formatComparison(c: Comparison, width = 28): string {
  const cell = (s: string) => {
    const t = s.replace(/\n/g, '⏎');
    return (t.length > width ? t.slice(0, width - 1) + '…' : t).padEnd(width);
  };
  const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(x * 100).toFixed(0)}%`);
  const lines = [
    `${cell('prompt')}  ${cell('expected')}  ${cell('before')}  ${cell('after')}`,
    ...c.rows.map(
      (r) =>
        `${cell(r.prompt)}  ${cell(r.expected)}  ${cell((r.parentExact ? '✓ ' : '✗ ') + r.parent)}  ${cell((r.childExact ? '✓ ' : '✗ ') + r.child)}`,
    ),
    `exact match: ${pct(c.parent.exactMatch)} → ${pct(c.child.exactMatch)}; token accuracy: ${pct(c.parent.tokenAccuracy)} → ${pct(c.child.tokenAccuracy)}`,
  ];
  return lines.join('\n');
}
