import { strict as assert } from 'node:assert';
import { GptLabError } from '../../../src/core/errors';
import { PRESETS } from '../../../src/core/model/config';
import {
  checkTrainingFits,
  estimateTrainingMemory,
  USABLE_HEAP_FRACTION,
  WASM_HEAP_BYTES,
} from '../../../src/core/model/memory';

const WASM = WASM_HEAP_BYTES * USABLE_HEAP_FRACTION;

describe('training memory estimate', () => {
  it('lets every preset train on the wasm heap and refuses base with batches of 8 (which ran out)', () => {
    for (const p of Object.values(PRESETS)) checkTrainingFits(p.model, p.batchSize, WASM);
    assert.throws(() => checkTrainingFits(PRESETS.base.model, 8, WASM), /TOO_BIG|needs about/);
  });

  it('grows with every size option, quadratically with the context', () => {
    const m = PRESETS.small.model;
    const at = (over: object, batch = 8) => estimateTrainingMemory({ ...m, ...over }, batch).totalBytes;
    const base = at({});
    for (const over of [{ nLayer: 8 }, { nEmbd: 256 }, { vocabSize: 4096 }, { nHead: 8 }]) assert.ok(at(over) > base);
    assert.ok(at({}, 16) > base);
    const act = (T: number) => estimateTrainingMemory({ ...m, contextLength: T }, 1).activationBytes;
    assert.ok(act(4096) / act(2048) > 2.5, 'attention scores are T²');
  });

  it('refuses what the issue saw crash, with TOO_BIG naming the option and the largest that fits', () => {
    const cases: [object, string][] = [
      [{ nEmbd: 8192, nHead: 1 }, '--embd'],
      [{ contextLength: 100_000 }, '--context'],
    ];
    for (const [over, flag] of cases) {
      try {
        checkTrainingFits({ ...PRESETS.tiny.model, ...over }, 16, WASM, 'the wasm heap');
        assert.fail('fits');
      } catch (e) {
        assert.ok(e instanceof GptLabError);
        assert.equal(e.code, 'TOO_BIG');
        const hint = new RegExp(`${flag} \\d+ → at most (\\d+)`).exec(e.message);
        assert.ok(hint, e.message);
        const largest = Number(hint[1]);
        const key = flag === '--embd' ? 'nEmbd' : 'contextLength';
        checkTrainingFits({ ...PRESETS.tiny.model, ...over, [key]: largest }, 16, WASM);
      }
    }
  });
});
