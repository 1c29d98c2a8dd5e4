import * as assert from 'node:assert/strict';
import { AdapterFacts, adapterKind, describeAdapter } from '../../../../src/core/backend/adapterKind';
import { sumInChunks } from '../../../../src/core/backend/webgpuKernels';

/** Adapter infos as Dawn reports them (the llvmpipe one seen here on Debian 12; others from their drivers). */
const SOFTWARE: [string, AdapterFacts][] = [
  [
    'Mesa llvmpipe through OpenGL ES (node-webgpu 0.6.2, Debian 12)',
    {
      vendor: '',
      architecture: '',
      device: 'llvmpipe-llvm-15-0-6-256-bits-',
      description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
    },
  ],
  [
    'lavapipe through Vulkan',
    { vendor: 'mesa', device: 'llvmpipe (LLVM 17.0.6, 256 bits)', description: 'Mesa 24.0.5 (LLVM 17.0.6)' },
  ],
  ['SwiftShader', { vendor: 'google', device: 'SwiftShader Device (Subzero)', description: 'SwiftShader driver' }],
  ["Dawn's null backend", { vendor: '', device: 'null-backend', description: '' }],
  ["Windows' WARP", { vendor: 'microsoft', device: 'Microsoft Basic Render Driver', description: 'D3D12 WARP' }],
  ['a fallback adapter with no names', { vendor: '', device: '', isFallbackAdapter: true }],
  ["Dawn's adapterType CPU", { vendor: 'unknown', device: 'some device', adapterType: 'CPU' }],
];
const HARDWARE: [string, AdapterFacts][] = [
  [
    'NVIDIA through Vulkan',
    { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: 'NVIDIA: 550.54.15' },
  ],
  [
    'AMD RADV',
    {
      vendor: 'amd',
      architecture: 'rdna-3',
      device: 'AMD Radeon RX 7900 XTX (RADV NAVI31)',
      description: 'radv Mesa 24.0',
    },
  ],
  ['Apple through Metal', { vendor: 'apple', architecture: 'metal-3', device: '', description: 'Apple M2' }],
  [
    'Intel ANV',
    { vendor: 'intel', architecture: 'gen-12lp', device: 'Intel(R) UHD Graphics 770', adapterType: 'integrated GPU' },
  ],
  ['a driver that names nothing', { vendor: '', architecture: '', device: '', description: '' }],
];

describe('WebGPU adapter kind (what auto may pick)', () => {
  for (const [name, info] of SOFTWARE) {
    it(`software: ${name}`, () => {
      const k = adapterKind(info);
      assert.equal(k.kind, 'software', describeAdapter(info));
    });
  }
  for (const [name, info] of HARDWARE) {
    it(`hardware: ${name}`, () => assert.deepEqual(adapterKind(info), { kind: 'hardware' }));
  }

  it('says why an adapter is software and describes it in one line', () => {
    const [, gl] = SOFTWARE[0];
    assert.deepEqual(adapterKind(gl), { kind: 'software', why: 'a software renderer (llvmpipe)' });
    assert.equal(describeAdapter(gl), 'llvmpipe-llvm-15-0-6-256-bits- (OpenGL version OpenGL ES 3.2 Mesa 22.3.6)');
    assert.equal(describeAdapter({}), 'unnamed adapter');
  });
});

describe('webgpu AddN in chunks (the device binds few storage buffers per shader)', () => {
  for (const n of [1, 2, 7, 8, 29, 50]) {
    it(`sums ${n} inputs at most 7 at a time and frees every partial sum`, () => {
      const made = new Set<number[]>();
      const freed: number[][] = [];
      const inputs = Array.from({ length: n }, (_, i) => [i + 1]);
      const add = (xs: number[][]) => {
        assert.ok(xs.length <= 7, `${xs.length} inputs in one shader`);
        const out = [xs.reduce((s, x) => s + x[0], 0)];
        made.add(out);
        return out;
      };
      const out = sumInChunks(inputs, 7, add, (x) => freed.push(x));
      assert.equal(out[0], (n * (n + 1)) / 2);
      assert.ok(!freed.includes(out), 'the result is not freed');
      assert.ok(
        freed.every((x) => made.has(x)),
        'only partial sums are freed, never an input',
      );
      assert.equal(freed.length, made.size - 1, 'every partial sum but the result is freed');
    });
  }
});
