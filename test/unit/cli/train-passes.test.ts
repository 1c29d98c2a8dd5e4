import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { endedByText, passesCapText, trainConfigFromOptions, TrainCliOptions, trainPlan } from '../../../src/cli/train';
import { AUTO_MAX_PASSES } from '../../../src/core/model/config';
import { corpusDir, runCli, TINY_ALL, tmpDir } from './run';

const base: TrainCliOptions = { backend: 'wasm' };

describe('gpt-lab train --max-passes', function () {
  this.timeout(120_000);

  it('caps any preset, keeps auto’s cap without the flag and removes it with 0', () => {
    assert.equal(trainConfigFromOptions({ ...base, maxPasses: '3' }).maxPasses, 3);
    assert.equal(trainConfigFromOptions({ ...base, maxPasses: '0.5' }).maxPasses, 0.5);
    assert.equal(trainConfigFromOptions(base).maxPasses, undefined, 'tiny has no cap');
    assert.equal(trainConfigFromOptions({ ...base, preset: 'auto' }, 48_000).maxPasses, AUTO_MAX_PASSES);
    assert.equal(trainConfigFromOptions({ ...base, preset: 'auto', maxPasses: '0' }, 48_000).maxPasses, undefined);
    assert.equal(trainConfigFromOptions({ ...base, preset: 'auto', maxPasses: '16' }, 48_000).maxPasses, 16);
    assert.equal(trainPlan({ ...base, resume: true, maxPasses: '5' }).config.maxPasses, 5);
    assert.equal(trainPlan({ ...base, resume: true }).config.maxPasses, undefined);
    for (const bad of ['-1', 'abc', '']) {
      assert.throws(() => trainConfigFromOptions({ ...base, maxPasses: bad }), /--max-passes must be a number/);
    }
  });

  it('says at the start what the cap means and when it will end the run', () => {
    const cap = { maxPasses: 8, trainTokens: 15_000, tokens: 120_000, tokensSeen: 0 };
    const text = passesCapText(cap, { preset: 'auto', corpusBytes: 48_000, minutes: 10, tokensPerSecond: 8000 });
    assert.equal(
      text,
      'auto trains at most 8 passes over your 48.0 KB of code (~15.0k training tokens): more would memorise it; ' +
        'the run will end in about 15 seconds of the 10 minutes',
    );
    const long = passesCapText({ ...cap, tokens: 1e8 }, { corpusBytes: 4e6, minutes: 2, tokensPerSecond: 8000 });
    assert.match(long, /^this run trains at most 8 passes .*; the 2 minutes will likely end it first$/);
    assert.equal(endedByText({ endedBy: 'minutes', passes: 3 }), undefined);
    assert.match(
      endedByText({ endedBy: 'passes', passes: 8.04 })!,
      /^the cap of 8 passes over the training tokens ended the run, not the minutes/,
    );
  });

  it('ends a run at the cap before its steps, and says so', async () => {
    const corpus = await corpusDir();
    const args = ['train', corpus, ...TINY_ALL.filter((a, i, all) => a !== '--steps' && all[i - 1] !== '--steps')];
    const out = path.join(await tmpDir(), 'm');
    const r = await runCli([...args, '--steps', '10000', '--max-passes', '0.5', '--no-completions', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /this run trains at most 0\.5 passes over your [0-9.]+ KB of code/);
    assert.match(r.stderr, /the cap of 0\.5 passes over the training tokens ended the run, not the minutes/);
    const json = await runCli([
      ...args,
      '--steps',
      '10000',
      '--max-passes',
      '0.5',
      '--no-completions',
      '--out',
      out,
      '--force',
      '--json',
    ]);
    const cap = json.events.find((e) => e.event === 'passesCap') as { tokens: number } | undefined;
    const done = json.events.find((e) => e.event === 'done') as
      { endedBy: string; step: number; tokensSeen: number } | undefined;
    assert.ok(cap && done, json.stdout);
    assert.equal(done.endedBy, 'passes');
    assert.ok(done.step < 10000 && done.tokensSeen >= cap.tokens, `step ${done.step}, ${done.tokensSeen} tokens`);
  });
});
