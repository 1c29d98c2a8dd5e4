import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../../src/core/checkpoint';
import { randInt, tmpDir } from './support';

/**
 * test/unit/core/checkpoint.test.ts stages each crash point of a save by hand (before the commit record, halfway
 * through the renames); this kills a real writer at random moments, so the crash lands wherever it lands.
 */
describe('fault: the process is killed in the middle of checkpoint writes, many times', function () {
  this.timeout(120_000);

  it('always leaves a whole checkpoint: the last acknowledged one or a newer one, never a mix', async () => {
    const dir = path.join(await tmpDir(), 'model');
    const module = path.resolve(__dirname, '../../src/core/checkpoint/index.js');
    // Each step's weights are a function of the step (and sizes vary), so a mix of two saves cannot pass as one.
    const script = `
      const { saveCheckpoint } = require(${JSON.stringify(module)});
      const weights = (step) => {
        const data = new Float32Array(20000 + (step % 5) * 3000).map((_, i) => step * 1000 + i);
        return new Map([['w', { dtype: 'F32', shape: [data.length], data }]]);
      };
      (async () => {
        for (let step = Number(process.argv[1]); ; step++) {
          await saveCheckpoint(${JSON.stringify(dir)}, {
            config: { step }, tokenizer: { step }, weights: weights(step), optimizer: weights(step + 1), step,
            trainer: { step },
          });
          process.stdout.write(step + '\\n');
        }
      })();`;
    let next = 1;
    let acknowledged = 0;
    const rounds = 16;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, ['-e', script, String(next)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d) => {
          // Once it is saving (module loading takes a while), kill it at a random moment of a later save.
          if (!out) setTimeout(resolve, randInt(0, 40));
          out += d;
        });
        child.on('exit', () => resolve());
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      const acked = out
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
      if (acked.length) acknowledged = acked.at(-1)!;

      const ckpt = await loadCheckpoint(dir);
      assert.ok(ckpt.step >= acknowledged, `round ${round}: step ${ckpt.step} loaded, ${acknowledged} was saved`);
      assert.ok(ckpt.step <= acknowledged + 1, `round ${round}: step ${ckpt.step} was never written`);
      assert.deepEqual(ckpt.config, { step: ckpt.step });
      assert.deepEqual(ckpt.trainer, { step: ckpt.step });
      const w = ckpt.weights.get('w')!.data;
      assert.equal(w.length, 20000 + (ckpt.step % 5) * 3000);
      assert.equal(w[0], ckpt.step * 1000);
      assert.equal(w[w.length - 1], ckpt.step * 1000 + w.length - 1);
      assert.equal(
        ckpt.optimizer?.get('w')?.data[0],
        (ckpt.step + 1) * 1000,
        'the optimizer state is from another save',
      );
      next = ckpt.step + 1;
      acknowledged = ckpt.step;
    }
    // The next save cleans what the kills left (uncommitted `.next` files, temp files).
    const w = new Map([['w', { dtype: 'F32' as const, shape: [1], data: new Float32Array(1) }]]);
    await saveCheckpoint(dir, { config: {}, tokenizer: {}, weights: w, step: next });
    assert.deepEqual((await fs.readdir(dir)).sort(), [
      'config.json',
      'model.safetensors',
      'state.json',
      'tokenizer.json',
    ]);
  });
});
