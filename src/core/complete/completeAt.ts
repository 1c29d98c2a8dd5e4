import { fimPrompt, healingText, tokensStartingWith } from '.';
import type { GPT } from '../model/gpt';
import { generateAsync, GenerateResult, Generator } from '../sample';
import type { Tokenizer } from '../tokenizer';

export interface CompleteOptions {
  fim: boolean;
  maxTokens: number;
  multiline: boolean;
  shouldStop?: () => boolean;
  generator?: Generator;
}

/** Generation of a middle ends at any special token (the next FIM piece or end-of-text). */
export function specialTokens(tok: Tokenizer): number[] {
  return Object.values(tok.specials);
}

/**
 * The raw text the model would insert at a cursor: the FIM (or prefix-only) prompt with token healing, greedy,
 * one line unless multiline. Used by completions and by their held-out evaluation alike.
 */
export async function completeAt(
  model: GPT,
  tok: Tokenizer,
  prefix: string,
  suffix: string,
  o: CompleteOptions,
): Promise<GenerateResult> {
  // At most half the context for new tokens: the rest holds the text around the cursor.
  const maxTokens = Math.max(1, Math.min(o.maxTokens, Math.floor(model.config.contextLength / 2)));
  let heal = healingText(tok, prefix);
  const firstTokens = heal ? tokensStartingWith(tok, heal) : undefined;
  if (!firstTokens?.size) heal = '';
  const prompt = fimPrompt(tok, prefix.slice(0, prefix.length - heal.length), suffix, {
    contextLength: model.config.contextLength,
    maxNewTokens: maxTokens,
    fim: o.fim,
  });
  const r = await generateAsync(model, tok, prompt.ids, {
    maxTokens,
    temperature: 0,
    stop: o.multiline ? ['\n\n\n'] : ['\n'],
    stopTokens: specialTokens(tok),
    firstTokens: heal ? firstTokens : undefined,
    shouldStop: o.shouldStop,
    generator: o.generator,
  });
  // The healed characters are already typed: drop them from what the model wrote.
  if (!heal) return r;
  return { ...r, text: r.text.startsWith(heal) ? r.text.slice(heal.length) : '' };
}
