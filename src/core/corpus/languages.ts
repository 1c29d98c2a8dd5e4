/**
 * File name → language, two ways: a human name for summaries ('TypeScript') and the VS Code
 * languageId the completion provider registers for ('typescriptreact'). One table keeps them in step.
 */

type Entry = readonly [language: string, vscodeId: string];

const BY_EXTENSION: Readonly<Record<string, Entry>> = {
  ts: ['TypeScript', 'typescript'],
  mts: ['TypeScript', 'typescript'],
  cts: ['TypeScript', 'typescript'],
  tsx: ['TypeScript', 'typescriptreact'],
  js: ['JavaScript', 'javascript'],
  mjs: ['JavaScript', 'javascript'],
  cjs: ['JavaScript', 'javascript'],
  jsx: ['JavaScript', 'javascriptreact'],
  py: ['Python', 'python'],
  pyi: ['Python', 'python'],
  pyw: ['Python', 'python'],
  ipynb: ['Jupyter Notebook', 'jupyter'],
  rs: ['Rust', 'rust'],
  go: ['Go', 'go'],
  java: ['Java', 'java'],
  kt: ['Kotlin', 'kotlin'],
  kts: ['Kotlin', 'kotlin'],
  scala: ['Scala', 'scala'],
  groovy: ['Groovy', 'groovy'],
  gradle: ['Groovy', 'groovy'],
  c: ['C', 'c'],
  // VS Code opens .h as C++; the summary still counts it as C (the common case for .h).
  h: ['C', 'cpp'],
  cpp: ['C++', 'cpp'],
  cc: ['C++', 'cpp'],
  cxx: ['C++', 'cpp'],
  'c++': ['C++', 'cpp'],
  hpp: ['C++', 'cpp'],
  hh: ['C++', 'cpp'],
  hxx: ['C++', 'cpp'],
  'h++': ['C++', 'cpp'],
  inl: ['C++', 'cpp'],
  ino: ['C++', 'cpp'],
  cu: ['CUDA', 'cuda-cpp'],
  cuh: ['CUDA', 'cuda-cpp'],
  cs: ['C#', 'csharp'],
  fs: ['F#', 'fsharp'],
  fsx: ['F#', 'fsharp'],
  vb: ['Visual Basic', 'vb'],
  m: ['Objective-C', 'objective-c'],
  mm: ['Objective-C++', 'objective-cpp'],
  swift: ['Swift', 'swift'],
  dart: ['Dart', 'dart'],
  rb: ['Ruby', 'ruby'],
  php: ['PHP', 'php'],
  pl: ['Perl', 'perl'],
  pm: ['Perl', 'perl'],
  lua: ['Lua', 'lua'],
  r: ['R', 'r'],
  jl: ['Julia', 'julia'],
  ex: ['Elixir', 'elixir'],
  exs: ['Elixir', 'elixir'],
  erl: ['Erlang', 'erlang'],
  hs: ['Haskell', 'haskell'],
  ml: ['OCaml', 'ocaml'],
  mli: ['OCaml', 'ocaml'],
  clj: ['Clojure', 'clojure'],
  cljs: ['Clojure', 'clojure'],
  zig: ['Zig', 'zig'],
  sh: ['Shell', 'shellscript'],
  bash: ['Shell', 'shellscript'],
  zsh: ['Shell', 'shellscript'],
  fish: ['Shell', 'fish'],
  ps1: ['PowerShell', 'powershell'],
  psm1: ['PowerShell', 'powershell'],
  bat: ['Batch', 'bat'],
  cmd: ['Batch', 'bat'],
  sql: ['SQL', 'sql'],
  graphql: ['GraphQL', 'graphql'],
  gql: ['GraphQL', 'graphql'],
  proto: ['Protocol Buffers', 'proto'],
  md: ['Markdown', 'markdown'],
  markdown: ['Markdown', 'markdown'],
  mdx: ['MDX', 'mdx'],
  rst: ['reStructuredText', 'restructuredtext'],
  tex: ['TeX', 'latex'],
  txt: ['Text', 'plaintext'],
  json: ['JSON', 'json'],
  jsonc: ['JSON', 'jsonc'],
  json5: ['JSON', 'json5'],
  yaml: ['YAML', 'yaml'],
  yml: ['YAML', 'yaml'],
  toml: ['TOML', 'toml'],
  ini: ['INI', 'ini'],
  cfg: ['INI', 'ini'],
  xml: ['XML', 'xml'],
  svg: ['SVG', 'xml'],
  html: ['HTML', 'html'],
  htm: ['HTML', 'html'],
  css: ['CSS', 'css'],
  scss: ['SCSS', 'scss'],
  less: ['Less', 'less'],
  vue: ['Vue', 'vue'],
  svelte: ['Svelte', 'svelte'],
  tf: ['Terraform', 'terraform'],
  hcl: ['HCL', 'hcl'],
  cmake: ['CMake', 'cmake'],
  mk: ['Makefile', 'makefile'],
  dockerfile: ['Dockerfile', 'dockerfile'],
};

/** Whole file names (checked before the extension; 'Dockerfile.dev' counts too). */
const BY_NAME: Readonly<Record<string, Entry>> = {
  Dockerfile: ['Dockerfile', 'dockerfile'],
  Containerfile: ['Dockerfile', 'dockerfile'],
  Makefile: ['Makefile', 'makefile'],
  makefile: ['Makefile', 'makefile'],
  GNUmakefile: ['Makefile', 'makefile'],
  'CMakeLists.txt': ['CMake', 'cmake'],
  Gemfile: ['Ruby', 'ruby'],
  Rakefile: ['Ruby', 'ruby'],
  Jenkinsfile: ['Groovy', 'groovy'],
  '.gitignore': ['Ignore', 'ignore'],
  '.dockerignore': ['Ignore', 'ignore'],
  '.npmignore': ['Ignore', 'ignore'],
  '.bashrc': ['Shell', 'shellscript'],
  '.zshrc': ['Shell', 'shellscript'],
  '.profile': ['Shell', 'shellscript'],
};

const OTHER: Entry = ['Other', 'plaintext'];

function entryOf(relPath: string): Entry {
  const name = relPath.slice(relPath.lastIndexOf('/') + 1);
  const byName = BY_NAME[name] ?? (name.startsWith('Dockerfile.') ? BY_NAME.Dockerfile : undefined);
  if (byName) return byName;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return OTHER; // no extension, or a dotfile like '.env'
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? OTHER;
}

/** Human language name for summaries: 'TypeScript', 'C++', … or 'Other'. */
export function languageOf(relPath: string): string {
  return entryOf(relPath)[0];
}

/** VS Code languageId for a file ('typescriptreact', 'cpp', …); 'plaintext' when unknown. */
export function vscodeLanguageIdOf(relPath: string): string {
  return entryOf(relPath)[1];
}

/** Prose formats: long lines are normal there (one paragraph per line), so no minified check. */
export function isProse(relPath: string): boolean {
  const language = languageOf(relPath);
  return language === 'Markdown' || language === 'MDX' || language === 'Text' || language === 'reStructuredText';
}
