import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { trainConfigFromOptions, TrainCliOptions, trainPlan } from '../../../src/cli/train';
import { corpusDir, runCli, TINY_ALL, tmpDir } from './run';

const base: TrainCliOptions = { backend: 'wasm' };

describe('gpt-lab train --dropout', function () {
  this.timeout(120_000);

  it('sets pre-training dropout, 0 by default, refuses values outside 0..0.9 and on --resume', () => {
    assert.equal(trainConfigFromOptions({ ...base, dropout: '0.2' }).dropout, 0.2);
    assert.ok(!trainConfigFromOptions(base).dropout, 'no dropout unless asked');
    assert.ok(!trainConfigFromOptions({ ...base, dropout: '0' }).dropout);
    for (const bad of ['1', '-0.1', 'abc']) {
      assert.throws(() => trainConfigFromOptions({ ...base, dropout: bad }), /--dropout must be/);
    }
    assert.throws(() => trainPlan({ ...base, resume: true, dropout: '0.1' }), /--dropout cannot change when resuming/);
  });

  it('trains with it and saves it in the training config of the model folder', async () => {
    const out = path.join(await tmpDir(), 'm');
    const r = await runCli([
      'train',
      await corpusDir(),
      ...TINY_ALL,
      '--dropout',
      '0.3',
      '--no-completions',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const config = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8')) as {
      training: { dropout?: number };
    };
    assert.equal(config.training.dropout, 0.3);
  });
});
