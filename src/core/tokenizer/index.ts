export { Tokenizer, type PretokenizerName, type TokenizerJSON } from './tokenizer';
export { forEachGpt2Pretoken } from './gpt2Pretokenize';
export { trainTokenizer, type TrainTokenizerOptions } from './train';
export { forEachPretoken, pretokenize, MAX_PRETOKEN_BYTES } from './pretokenize';
export { FIRST_MERGE_ID, MAX_VOCAB_SIZE, SPECIAL_IDS, SPECIAL_TOKENS, type Merge, type SpecialTokenIds } from './vocab';
