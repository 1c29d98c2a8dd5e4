// Compiles kernels.c to gptlab-kernels.wasm with Debian's clang + lld (`apt-get install clang lld`).
// `npm run build:kernels` rewrites the committed binary; `--out FILE` writes elsewhere (the unit test
// rebuilds into a temp file and compares bytes).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(here, '..', 'gptlab-kernels.wasm');

execFileSync(
  'clang',
  [
    '--target=wasm32',
    '-msimd128',
    '-mbulk-memory', // memset/memcpy become memory.fill/copy: there is no libc
    '-mmutable-globals', // to export __stack_pointer, which the loader points at a block of tfjs's heap
    '-O3',
    '-nostdlib',
    '-Wl,--no-entry',
    '-Wl,--import-memory', // tfjs's memory: tensors are read and written in place
    '-Wl,--export=__stack_pointer',
    '-Wl,--strip-debug',
    '-o',
    out,
    path.join(here, 'kernels.c'),
  ],
  { stdio: 'inherit', cwd: here },
);
