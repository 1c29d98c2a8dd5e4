import { strict as assert } from 'node:assert';
import { sourceHeading } from '../../../webview/inspector/viewModel';

describe('webview: attention inspector header', () => {
  it('names the selection when the model sees all of it', () => {
    assert.deepEqual(sourceHeading({ label: 'a.ts:3–7' }, { shown: 40, total: 40, contextLength: 64 }), {
      label: 'a.ts:3–7',
    });
  });

  it('names the lines shown and says the start was left out when the selection is longer than the context', () => {
    const h = sourceHeading({ label: 'a.ts:3–7', shown: 'a.ts:6–7' }, { shown: 64, total: 210, contextLength: 64 });
    assert.equal(h.label, 'a.ts:6–7 (last 64 of 210 tokens)');
    assert.match(h.note ?? '', /only the last 64 tokens/);
    assert.match(h.note ?? '', /a\.ts:3–7/);
  });
});
