/** Why classifyFile turned a file away. */
export type SkipReason = 'binary' | 'minified' | 'generated' | 'too-large' | 'empty';

/**
 * Every reason readCorpus can skip a path for: the content reasons above, plus
 * 'ignored' (.gitignore, exclude, or not matching include; a pruned directory counts once),
 * 'over-budget' (past maxTotalBytes) and 'unreadable' (vanished or no permission mid-walk).
 */
export type SkipCategory = SkipReason | 'ignored' | 'over-budget' | 'unreadable';

export const SKIP_CATEGORIES: readonly SkipCategory[] = [
  'binary',
  'minified',
  'generated',
  'too-large',
  'empty',
  'ignored',
  'over-budget',
  'unreadable',
];

/** Build and cache folders nobody wants to train on. Replace the whole list via `exclude`. */
export const DEFAULT_EXCLUDE: readonly string[] = [
  'node_modules/',
  'dist/',
  'out/',
  'build/',
  '.next/',
  'target/',
  '__pycache__/',
  '.venv/',
  'coverage/',
  '.gpt-lab/',
];

export interface CorpusOptions {
  /** gitignore-syntax patterns; when non-empty, only files matching one are kept. */
  include: readonly string[];
  /** gitignore-syntax patterns to skip (files or whole directories). Default: DEFAULT_EXCLUDE. */
  exclude: readonly string[];
  /** Honour every .gitignore in the tree (nested ones apply to their subtree). */
  gitignore: boolean;
  /** Files larger than this are skipped as 'too-large'. */
  maxFileBytes: number;
  /** Once the kept files would pass this total, the rest are skipped as 'over-budget'. */
  maxTotalBytes: number;
  /** Folders never read (absolute or relative to the working directory), e.g. the model folder a run writes. */
  skipDirs: readonly string[];
  /**
   * Glob patterns (VS Code's `files.exclude` syntax, relative to the root) of files and folders to skip; a
   * matching folder is skipped with everything in it. The extension passes the user's `files.exclude` here.
   */
  excludeGlobs: readonly string[];
}

export const DEFAULT_CORPUS_OPTIONS: Readonly<CorpusOptions> = {
  include: [],
  exclude: DEFAULT_EXCLUDE,
  gitignore: true,
  maxFileBytes: 1024 * 1024, // 1 MiB: bigger than nearly any hand-written source file
  maxTotalBytes: 50 * 1000 * 1000, // 50 MB: far more text than a tiny model can learn from in minutes
  skipDirs: [],
  excludeGlobs: [],
};

export interface CorpusFile {
  /** Relative to the corpus root, '/' separators. */
  path: string;
  bytes: Uint8Array;
  /** Human language name from languageOf ('TypeScript', 'Other', …). */
  language: string;
}

export interface LanguageShare {
  language: string;
  files: number;
  bytes: number;
}

export interface CorpusSummary {
  files: number;
  bytes: number;
  /** Sorted by bytes, largest first (ties by name). */
  languages: LanguageShare[];
  skipped: Record<SkipCategory, number>;
}

export interface Corpus {
  /** Absolute path of the folder that was read. */
  root: string;
  /** Sorted by path. */
  files: CorpusFile[];
  summary: CorpusSummary;
}
