export { classifyFile, looksBinary, looksMinified } from './classify';
export { isProse, languageOf, vscodeLanguageIdOf } from './languages';
export { readCorpus, readCorpusFiles } from './read';
export { fnv1a32, pathScore, splitByFile, type FileSplit } from './split';
export { emptySkipCounts, formatBytes, formatCorpusSummary, formatSkipped, summarizeCorpus } from './summary';
export {
  DEFAULT_CORPUS_OPTIONS,
  DEFAULT_EXCLUDE,
  SKIP_CATEGORIES,
  type Corpus,
  type CorpusFile,
  type CorpusOptions,
  type CorpusSummary,
  type LanguageShare,
  type SkipCategory,
  type SkipReason,
} from './types';
export { gitignoreLevel, isGitignored, type GitignoreLevel } from './gitignore';
