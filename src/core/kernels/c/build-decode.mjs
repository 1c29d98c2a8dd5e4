// Compiles decode.c to gptlab-decode.wasm with Debian's clang + lld (`apt-get install clang lld`), as build.mjs
// does kernels.c. `npm run build:kernels` rewrites both committed binaries; `--out FILE` writes elsewhere (the
// unit test rebuilds into a temp file and compares bytes).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(here, '..', 'gptlab-decode.wasm');

execFileSync(
  'clang',
  [
    '--target=wasm32',
    '-msimd128',
    '-mbulk-memory', // memset/memcpy become memory.fill/copy: there is no libc
    '-O3',
    '-nostdlib',
    '-Wl,--no-entry',
    // Its own memory (exported, grown by the loader): the weights are copied in, caches and scratch live there.
    '-Wl,--export=__heap_base',
    '-Wl,--strip-debug',
    '-o',
    out,
    path.join(here, 'decode.c'),
  ],
  { stdio: 'inherit', cwd: here },
);
