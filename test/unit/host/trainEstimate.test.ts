import { strict as assert } from 'node:assert';
import { AUTO_LADDER, autoPreset, parameterCount, PRESETS, withArchitecture } from '../../../src/core/model/config';
import { presetTokensPerSecond, trainEstimate } from '../../../src/host/commands/trainEstimate';

const ladderSpeed = (name: string) => AUTO_LADDER.find((r) => r.preset.name === name)!.tokensPerSecond;

describe("Train on Workspace's quick pick: tokens and passes from the measured speeds", () => {
  const big = { corpusBytes: 100 << 20, minutes: 10, architecture: 'modern' as const };

  it("plans the ladder's presets at the ladder's measured speed", () => {
    for (const name of ['tiny', 'small']) {
      assert.equal(presetTokensPerSecond(PRESETS[name], big), ladderSpeed(name), name);
      const e = trainEstimate(PRESETS[name], big);
      assert.ok(Math.abs(e.tokens - ladderSpeed(name) * 600) < 1e-6 * e.tokens, `${name}: ${e.tokens}`);
    }
  });

  it("derives base, off the ladder, from small's speed by parameters: about a tenth of it", () => {
    const base = presetTokensPerSecond(PRESETS.base, big);
    const ratio = base / ladderSpeed('small');
    assert.ok(ratio > 0.05 && ratio < 0.2, `base ${base} tok/s is ${ratio} of small's`);
  });

  it("plans auto at its chosen size's speed, and never past its cap of passes", () => {
    const o = { corpusBytes: 200_000, minutes: 30, architecture: 'modern' as const };
    const auto = autoPreset(o);
    assert.equal(presetTokensPerSecond(auto, o), auto.tokensPerSecond);
    assert.equal(trainEstimate(auto, o).passes, auto.maxPasses);
    // tiny has no cap: the same minutes on the same corpus go round it many more times
    assert.ok(trainEstimate(PRESETS.tiny, o).passes > 4 * auto.maxPasses!);
  });

  it('passes grow with the minutes and shrink with the corpus; parameters follow the architecture', () => {
    const a = trainEstimate(PRESETS.small, big);
    const b = trainEstimate(PRESETS.small, { ...big, minutes: 20 });
    const c = trainEstimate(PRESETS.small, { ...big, corpusBytes: 200 << 20 });
    assert.ok(Math.abs(b.passes / a.passes - 2) < 1e-9);
    assert.ok(Math.abs(c.passes / a.passes - 0.5) < 1e-9);
    const gpt2 = trainEstimate(PRESETS.small, { ...big, architecture: 'gpt2' });
    assert.equal(gpt2.parameters, parameterCount(withArchitecture({ model: PRESETS.small.model }, 'gpt2').model));
    assert.notEqual(gpt2.parameters, a.parameters);
  });
});
