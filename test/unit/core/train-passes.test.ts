import { strict as assert } from 'node:assert';
import { loadCheckpoint, saveCheckpoint } from '../../../src/core/checkpoint';
import { AUTO_MAX_PASSES, autoPreset, resolvePreset } from '../../../src/core/model/config';
import { defaultTrainConfig, TrainConfig, validateTrainConfig } from '../../../src/core/train/config';
import type { LoopState, PassesCap } from '../../../src/core/train/loop';
import { pretrain } from '../../../src/core/train/trainer';
import { codeFiles, useWasm } from '../helpers/tf';
import { tinyTrainConfig, tmpDir } from '../helpers/train';

/** Tokens of one step of tinyTrainConfig: batch 4 × context 32. */
const STEP_TOKENS = 4 * 32;
const files = codeFiles(3);

/** A step budget far beyond reach, so only the passes cap can end the run; one warm-up step either way. */
const capped = (maxPasses: number, o: Partial<TrainConfig> = {}) =>
  tinyTrainConfig({ maxSteps: 1e6, maxPasses, warmupSteps: 1, schedule: 'wsd', decayFraction: 0.5, ...o });

describe('a budget in passes over the training tokens', () => {
  before(useWasm);
  let trainTokens = 0;

  before(async () => {
    // The training set's size, as the loop is told it (shouldStop: no step is trained).
    await pretrain({
      files,
      config: capped(1),
      hooks: { onPassesCap: (c) => (trainTokens = c.trainTokens), shouldStop: () => true },
    });
    assert.ok(trainTokens > STEP_TOKENS, `training tokens ${trainTokens}`);
  });

  /** maxPasses whose cap is `steps` steps of tokens, never above (a rounding above would take one step more). */
  const passesFor = (steps: number) => {
    let p = (steps * STEP_TOKENS) / trainTokens;
    while (p * trainTokens > steps * STEP_TOKENS) p -= p * Number.EPSILON;
    return p;
  };

  it('stops at the step whose tokens reach passes × training tokens, before its step budget', async () => {
    let cap: PassesCap | undefined;
    const dir = await tmpDir('passes');
    const r = await pretrain({ files, config: capped(1.5), outDir: dir, hooks: { onPassesCap: (c) => (cap = c) } });
    const expected = Math.ceil((1.5 * trainTokens) / STEP_TOKENS);
    assert.equal(cap?.tokens, 1.5 * trainTokens);
    assert.equal(r.step, expected);
    assert.equal(r.stopped, 'budget');
    assert.equal(r.endedBy, 'passes');
    assert.ok(r.tokensSeen >= 1.5 * trainTokens && r.tokensSeen - STEP_TOKENS < 1.5 * trainTokens);
    assert.ok(Math.abs(r.passes! - r.tokensSeen / trainTokens) < 1e-12, `passes ${r.passes}`);
    const state = (await loadCheckpoint(dir)).trainer as unknown as LoopState;
    assert.equal(state.target.tokens, 1.5 * trainTokens, 'the cap is saved with the budget');
  });

  it('decays the schedule to its end at the cap, as a step budget of as many steps would', async () => {
    const lrs = (cfg: TrainConfig) => {
      const out: number[] = [];
      return pretrain({ files, config: cfg, hooks: { onProgress: (p) => out.push(p.lr) } }).then((r) => ({ r, out }));
    };
    const byPasses = await lrs(capped(passesFor(6)));
    const bySteps = await lrs(capped(1e6, { maxPasses: undefined, maxSteps: 6 }));
    const onlyHuge = capped(1e6).learningRate;
    assert.equal(byPasses.r.step, 6);
    assert.equal(byPasses.r.endedBy, 'passes');
    assert.equal(bySteps.r.endedBy, 'steps');
    byPasses.out.forEach((lr, i) => assert.ok(Math.abs(lr - bySteps.out[i]) < 1e-12, `step ${i}: ${byPasses.out}`));
    // Without the cap in the fraction, a step budget of 1e6 would hold the peak to the end.
    assert.ok(byPasses.out.at(-1)! < onlyHuge / 2, `last lr ${byPasses.out.at(-1)} of peak ${onlyHuge}`);
    assert.deepEqual(byPasses.r.losses, bySteps.r.losses, 'the same batches and updates');
  });

  it('resumes across the cap exactly, counting the passes before the resume', async () => {
    const cfg = capped(passesFor(6));
    const full = await pretrain({ files, config: cfg });
    for (const again of [
      { ...cfg, maxSteps: undefined, maxPasses: undefined }, // no budget: the saved run finishes its own
      { ...cfg, maxSteps: 100 }, // a budget and the same cap: the cap is a total, not 6 more steps' worth
    ]) {
      const dir = await tmpDir('passes-resume');
      let steps = 0;
      const first = await pretrain({
        files,
        config: cfg,
        outDir: dir,
        hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
      });
      assert.equal(first.step, 3);
      const rest = await pretrain({ files, config: again, outDir: dir, resume: true });
      assert.equal(rest.step, 6);
      assert.equal(rest.endedBy, 'passes');
      assert.deepEqual([...first.losses, ...rest.losses], full.losses);
      assert.equal(rest.valLoss, full.valLoss);
    }
  });

  it('resumes a checkpoint saved before passes were counted (no tokens at the end of warm-up) exactly', async () => {
    const cfg = tinyTrainConfig();
    const full = await pretrain({ files, config: cfg });
    const dir = await tmpDir('passes-old-state');
    let steps = 0;
    const first = await pretrain({
      files,
      config: cfg,
      outDir: dir,
      hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
    });
    const ckpt = await loadCheckpoint(dir);
    const state = ckpt.trainer as unknown as LoopState;
    assert.equal(typeof state.warmupEnd?.tokensSeen, 'number', 'this version saves it');
    delete state.warmupEnd!.tokensSeen;
    await saveCheckpoint(dir, { ...ckpt, trainer: state });
    const rest = await pretrain({ files, config: { ...cfg, maxSteps: undefined }, outDir: dir, resume: true });
    assert.equal(rest.step, 8);
    assert.deepEqual([...first.losses, ...rest.losses], full.losses);
  });

  it('auto caps the passes; the fixed sizes do not', () => {
    assert.equal(autoPreset({ corpusBytes: 48_000, minutes: 10 }).maxPasses, AUTO_MAX_PASSES);
    const auto = defaultTrainConfig(resolvePreset('auto', { corpusBytes: 48_000, minutes: 10 }));
    assert.equal(auto.maxPasses, AUTO_MAX_PASSES);
    assert.equal(defaultTrainConfig('auto', { maxPasses: 3 }).maxPasses, 3);
    assert.equal(defaultTrainConfig('tiny').maxPasses, undefined);
  });

  it('refuses a cap that is not a positive number', () => {
    for (const bad of [0, -1, NaN, Infinity]) {
      assert.throws(
        () => validateTrainConfig({ ...tinyTrainConfig(), maxPasses: bad }),
        /maxPasses must be a positive number/,
      );
    }
    assert.equal(validateTrainConfig({ ...tinyTrainConfig(), maxPasses: 0.5 }).maxPasses, 0.5);
  });
});
