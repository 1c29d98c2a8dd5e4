import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { wasmSectionIds } from '../../helpers/wasmAsserts';

const root = path.resolve(__dirname, '../../../../..');
const committed = path.join(root, 'src/core/kernels/gptlab-kernels.wasm');

describe('gptlab-kernels.wasm', () => {
  it('is what kernels.c compiles to (npm run build:kernels), when clang and lld are installed', function () {
    const clang = spawnSync('clang', ['--version'], { encoding: 'utf8' });
    if (clang.status !== 0 || spawnSync('wasm-ld', ['--version']).status !== 0) {
      this.skip(); // .ci/run installs them; a developer machine may not have them
    }
    // The committed binary is Debian 12's clang 14; another version emits other (equally valid) bytes.
    if (!/clang version 14\./.test(clang.stdout)) this.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gptlab-kernels-'));
    try {
      const out = path.join(dir, 'k.wasm');
      execFileSync('node', [path.join(root, 'src/core/kernels/c/build.mjs'), '--out', out]);
      assert.ok(readFileSync(out).equals(readFileSync(committed)), 'rebuild with npm run build:kernels and commit');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has no data segment (instantiating it would overwrite the tfjs heap it shares) and imports only memory', () => {
    const bytes = readFileSync(committed);
    const sections = wasmSectionIds(bytes);
    assert.ok(sections.includes(10), 'has code');
    assert.ok(!sections.includes(11), 'no data section');
    const mod = new (
      globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } }
    ).WebAssembly.Module(bytes);
    const imports = (
      globalThis as unknown as { WebAssembly: { Module: { imports(m: object): { module: string; name: string }[] } } }
    ).WebAssembly.Module.imports(mod);
    assert.deepEqual(
      imports.map((i) => `${i.module}.${i.name}`),
      ['env.memory'],
    );
  });
});
