// Compiles decode.c to gptlab-decode.wasm (wasm-build.mjs: Debian's clang + lld). `npm run build:kernels`
// rewrites the committed binary; `--out FILE` writes elsewhere (the unit test rebuilds and compares bytes).
import { clangWasm, outFile } from './wasm-build.mjs';

clangWasm('decode.c', outFile('gptlab-decode.wasm'), {
  // Its own memory (exported, grown by the loader): the weights are copied in, caches and scratch live there.
  link: ['-Wl,--export=__heap_base'],
});
