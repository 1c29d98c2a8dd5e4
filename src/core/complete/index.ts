// Pure completion logic (no tensors: the extension host imports it). Model-backed parts: completeAt.ts, modelEval.ts.
export { fimPrompt, type FimPrompt, type FimPromptOptions } from './prompt';
export { trimCompletion, wantsMultiline, type CompletionContext, type TrimOptions } from './trim';
export { extendsSelectedItem, type SelectedSuggestion } from './select';
export { CompletionCache, CACHE_PREFIX_CHARS, CACHE_SUFFIX_CHARS } from './cache';
export {
  evaluateCompletions,
  type CompleteFn,
  type CompletionEval,
  type CompletionExample,
  type EvaluateOptions,
} from './evaluate';
export { healingText, tokensStartingWith } from './heal';
