// Bundles: the extension host (dist/extension.js), the worker process (dist/worker.js, with tfjs and its
// .wasm files copied beside it; its data-parallel replicas' threads run dist/replicaWorker.js) and each webview
// panel (dist/webview/*.js, for the browser).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

const builds = [
  {
    ...common,
    entryPoints: ['src/host/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: ['src/worker/main.ts'],
    outfile: 'dist/worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Optional native accelerators are loaded at run time only if installed.
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  },
  {
    // A data-parallel replica (worker thread): the worker starts it from beside itself, dist/replicaWorker.js.
    ...common,
    entryPoints: ['src/core/train/parallel/replicaWorker.ts'],
    outfile: 'dist/replicaWorker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  },
  {
    ...common,
    entryPoints: ['webview/loss/main.ts'],
    outfile: 'dist/webview/loss.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['webview/inspector/main.ts'],
    outfile: 'dist/webview/inspector.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['webview/stepper/main.ts'],
    outfile: 'dist/webview/stepper.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['webview/rank/main.ts'],
    outfile: 'dist/webview/rank.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['webview/align/main.ts'],
    outfile: 'dist/webview/align.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

function copyWasm() {
  const from = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';
  mkdirSync('dist', { recursive: true });
  for (const f of readdirSync(from).filter((n) => n.endsWith('.wasm')))
    copyFileSync(path.join(from, f), path.join('dist', f));
  // GPT Lab's own fused kernels (src/core/kernels), found beside the worker like tfjs's .wasm files.
  copyFileSync('src/core/kernels/gptlab-kernels.wasm', 'dist/gptlab-kernels.wasm');
  copyFileSync('src/core/kernels/gptlab-decode.wasm', 'dist/gptlab-decode.wasm'); // the decoder (decode.c)
  for (const f of ['gptlab-gemm.wasm', 'gptlab-gemm-relaxed.wasm']) copyFileSync(`src/core/kernels/${f}`, `dist/${f}`); // gemm.c
  copyFileSync('src/core/kernels/gptlab-gelu.wasm', 'dist/gptlab-gelu.wasm'); // GELU with its derivative (gelu.c)
}

// A fresh folder each build, so no stale bundle or source map ships in the VSIX.
if (!watch) rmSync('dist', { recursive: true, force: true });
copyWasm();
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
