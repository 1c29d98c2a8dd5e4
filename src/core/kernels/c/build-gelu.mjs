// Compiles gelu.c to gptlab-gelu.wasm (wasm-build.mjs: Debian's clang + lld). `npm run build:kernels` rewrites the
// committed binary; `--out FILE` writes elsewhere (the unit test rebuilds and compares bytes).
import { clangWasm, outFile } from './wasm-build.mjs';

clangWasm('gelu.c', outFile('gptlab-gelu.wasm'), {
  // to export __stack_pointer, which the loader points at a block of tfjs's heap
  compile: ['-mmutable-globals'],
  // tfjs's memory: tensors are read and written in place
  link: ['-Wl,--import-memory', '-Wl,--export=__stack_pointer'],
});
