// What every kernel module's build shares: Debian's clang + lld (`apt-get install clang lld`) compiling one C file
// to WebAssembly SIMD without libc, and the `--out FILE` argument with which the unit tests rebuild into a temp
// file and compare bytes with the committed binary.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));

/** `--out FILE` when given, else the committed binary `name` beside the loaders (src/core/kernels). */
export function outFile(name) {
  const i = process.argv.indexOf('--out');
  return i > 0 ? path.resolve(process.argv[i + 1]) : path.join(here, '..', name);
}

/**
 * Compiles `source` (beside this script) to `out`: wasm32 with SIMD, bulk memory (memset/memcpy become
 * memory.fill/copy: there is no libc), -O3, no entry point, no debug info; `compile` and `link` add the module's own
 * flags (their order is kept: the committed binaries are compared byte for byte).
 */
export function clangWasm(source, out, { compile = [], link = [] } = {}) {
  execFileSync(
    'clang',
    [
      '--target=wasm32',
      '-msimd128',
      '-mbulk-memory',
      ...compile,
      '-O3',
      '-nostdlib',
      '-Wl,--no-entry',
      ...link,
      '-Wl,--strip-debug',
      '-o',
      out,
      path.join(here, source),
    ],
    { stdio: 'inherit', cwd: here },
  );
}
