import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../../../..');
const committed = path.join(root, 'src/core/kernels/gptlab-decode.wasm');
// Node's typings here lack the WebAssembly namespace.
const wasm = (globalThis as unknown as { WebAssembly: { Module: WasmModule } }).WebAssembly;
interface WasmModule {
  new (b: Uint8Array): object;
  imports(m: object): { module: string; name: string }[];
  exports(m: object): { name: string; kind: string }[];
}

describe('gptlab-decode.wasm', () => {
  it('is what decode.c compiles to (npm run build:kernels), when clang 14 and lld are installed', function () {
    const clang = spawnSync('clang', ['--version'], { encoding: 'utf8' });
    if (clang.status !== 0 || spawnSync('wasm-ld', ['--version']).status !== 0) this.skip();
    // The committed binary is Debian 12's clang 14; another version emits other (equally valid) bytes.
    if (!/clang version 14\./.test(clang.stdout)) this.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gptlab-decode-'));
    try {
      const out = path.join(dir, 'd.wasm');
      execFileSync('node', [path.join(root, 'src/core/kernels/c/build-decode.mjs'), '--out', out]);
      assert.ok(readFileSync(out).equals(readFileSync(committed)), 'rebuild with npm run build:kernels and commit');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('owns its memory: imports nothing, exports its memory, heap base and decode_step', () => {
    const mod = new wasm.Module(readFileSync(committed));
    assert.deepEqual(wasm.Module.imports(mod), []);
    assert.deepEqual(
      wasm.Module.exports(mod)
        .map((e) => `${e.kind} ${e.name}`)
        .sort(),
      ['function decode_step', 'global __heap_base', 'memory memory'],
    );
  });
});
