// Compiles gemm.c twice with Debian's clang + lld (`apt-get install clang lld`), as build.mjs does kernels.c:
// gptlab-gemm.wasm (WebAssembly SIMD: multiply, then add) and gptlab-gemm-relaxed.wasm (relaxed SIMD's madd, an
// FMA on x86 with FMA3). `npm run build:kernels` rewrites the committed binaries; `--out DIR` writes both there
// (the unit test rebuilds into a temp folder and compares bytes).
//
// clang 14 knows relaxed madd only as the proposal's prototype `f32x4.fma` (opcode 0xfd 0xaf 0x01), which V8
// 11.3 (Node 20) rejects; the standard `f32x4.relaxed_madd` (0xfd 0x85 0x02) has the same length and operands
// (a·b + c), so the build rewrites the one into the other and checks the count against clang's assembly listing.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const dir = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(here, '..');

const PROTOTYPE = Buffer.from([0xfd, 0xaf, 0x01]);
const STANDARD = Buffer.from([0xfd, 0x85, 0x02]);

function build(out, extra) {
  execFileSync(
    'clang',
    [
      '--target=wasm32',
      '-msimd128',
      ...extra,
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
      path.join(here, 'gemm.c'),
    ],
    { stdio: 'inherit', cwd: here },
  );
}

function occurrences(bytes, pattern) {
  const at = [];
  for (let i = bytes.indexOf(pattern); i >= 0; i = bytes.indexOf(pattern, i + 1)) at.push(i);
  return at;
}

build(path.join(dir, 'gptlab-gemm.wasm'), []);

const relaxed = path.join(dir, 'gptlab-gemm-relaxed.wasm');
build(relaxed, ['-mrelaxed-simd', '-DGEMM_FMA']);
const bytes = readFileSync(relaxed);
const at = occurrences(bytes, PROTOTYPE);
const listing = execFileSync(
  'clang',
  ['--target=wasm32', '-msimd128', '-mrelaxed-simd', '-DGEMM_FMA', '-O3', '-S', '-o', '-', path.join(here, 'gemm.c')],
  { encoding: 'utf8', cwd: here },
);
const listed = listing.match(/\bf32x4\.fma\b/g) ?? [];
if (at.length === 0 || at.length !== listed.length) {
  throw new Error(`expected ${listed.length} f32x4.fma opcodes, found the bytes ${at.length} times`);
}
for (const i of at) STANDARD.copy(bytes, i);
writeFileSync(relaxed, bytes);
