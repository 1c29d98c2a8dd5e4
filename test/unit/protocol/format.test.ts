import { strict as assert } from 'node:assert';
import {
  compact,
  duration,
  lossAndBpb,
  megabytes,
  percent,
  probability,
  progressText,
  tokensPerSecond,
} from '../../../src/protocol/format';

describe('one way to read numbers and progress (CLI, status bar, notifications, panels)', () => {
  it('writes counts, durations, sizes and rates as a person reads them', () => {
    assert.deepEqual([12, 1234, 3_400_000, 2.1e9].map(compact), ['12', '1.2k', '3.4M', '2.1B']);
    assert.deepEqual([44_600, 120_000, 130_000, 3_900_000].map(duration), ['45 s', '2 min', '2 min 10 s', '1 h 5 min']);
    assert.deepEqual([400, 820_000, 3_400_000].map(megabytes), ['1 KB', '820 KB', '3.4 MB']);
    assert.equal(tokensPerSecond(987.6), '988 tok/s');
    assert.equal(tokensPerSecond(1234), '1.2k tok/s');
    assert.deepEqual([0.423, undefined, NaN].map(percent), ['42%', '—', '—']);
    assert.deepEqual([0, 0.42, 0.031, 0.0004, 0.00001, 0.9996].map(probability), [
      '0%',
      '42%',
      '3.1%',
      '0.04%',
      '<0.01%',
      '>99.9%',
    ]);
    assert.equal(lossAndBpb(1.23456, 1.4219), '1.235 (1.42 bits/byte)');
    assert.equal(lossAndBpb(1.23456, NaN), '1.235');
    assert.equal(lossAndBpb(undefined), '—');
  });

  const step = { fraction: 0.436, step: 120, loss: 2.3141, tokensPerSec: 1234, etaMs: 130_000 };

  it('reads a training step the same in every display, each taking the parts it has room for', () => {
    // The CLI's line (its bar shows the fraction), the notification, the status bar.
    assert.equal(progressText(step, { step: true }), 'step 120 · loss 2.314 · 1.2k tok/s · 2 min 10 s left');
    assert.equal(
      progressText(step, { percent: true, lossDigits: 2 }),
      '43% · loss 2.31 · 1.2k tok/s · 2 min 10 s left',
    );
    assert.equal(progressText(step, { percent: true, lossDigits: 2, eta: false }), '43% · loss 2.31 · 1.2k tok/s');
  });

  it("reads as the training panel's status (percent and step) and a stage command's line (step, last evaluation)", () => {
    const sft = { ...step, metrics: { tokenAccuracy: 0.4 } };
    assert.equal(
      progressText(sft, { percent: true, step: true }),
      '43% · step 120 · loss 2.314 · token accuracy 40% · 1.2k tok/s · 2 min 10 s left',
    );
    assert.equal(
      progressText(sft, { step: true, figures: 'loss 2.314 · held-out accuracy 38%' }),
      'step 120 · loss 2.314 · held-out accuracy 38% · 1.2k tok/s · 2 min 10 s left',
    );
  });

  it('shows the token accuracy of fine-tuning, and a stage’s own figures in place of the loss', () => {
    const sft = { ...step, metrics: { tokenAccuracy: 0.4 } };
    assert.equal(
      progressText(sft, { percent: true, lossDigits: 2 }),
      '43% · loss 2.31 · token accuracy 40% · 1.2k tok/s · 2 min 10 s left',
    );
    assert.equal(
      progressText(sft, { figures: 'reward 0.52 · KL 0.01' }),
      'reward 0.52 · KL 0.01 · 1.2k tok/s · 2 min 10 s left',
    );
  });
});
