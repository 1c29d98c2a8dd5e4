import { strict as assert } from 'node:assert';
import { bpbAtFractions, tokensToTarget, variantConfig } from '../../../src/cli/experiment';
import { useWasm } from '../helpers/tf';
import { corpusDir, runCli, tmpDir } from './run';

describe('gpt-lab experiment', () => {
  before(useWasm);

  it('trains each variant on a tiny budget and prints a table with the xz baselines, and JSON', async () => {
    const dir = await corpusDir();
    const work = await tmpDir('gpt-lab-exp-');
    const small = 'ctx16+embd16+layers1+heads2+vocab280+batch4';
    const variants = `gpt2+${small},modern+${small}`;
    const args = ['experiment', dir, '--variants', variants, '--tokens', '640', '--positions', '4', '--work', work];
    const text = await runCli(args);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    const header = lines.find((l) => l.startsWith('| variant'))!;
    assert.ok(header, text.stdout);
    for (const col of [
      'tokens',
      'tok/s',
      'sampled@25%',
      'sampled@50%',
      'sampled@75%',
      'sampled@100%',
      'held-out bpb',
      'tokens→',
      'exact',
      'saved',
      'shown',
    ]) {
      assert.ok(header.includes(col), `column ${col} in ${header}`);
    }
    const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| variant') && !l.startsWith('| ---'));
    assert.deepEqual(
      rows.map((r) => r.split('|')[1].trim()),
      [`gpt2+${small}`, `modern+${small}`, 'xz -9e (held-out alone)', 'xz -9e (given the training files)'],
    );
    for (const r of rows) assert.equal(r.split('|').length, header.split('|').length, r);
    // Every row's final figure, models' and xz's, sits in the held-out column: the same files and bytes.
    const heldCol = header.split('|').findIndex((c) => c.trim() === 'held-out bpb');
    for (const r of rows) assert.match(r.split('|')[heldCol].trim(), /^\d+\.\d{3}$/, r);

    const json = await runCli([...args, '--json', '--seeds', '1,2', '--variants', `gpt2+${small}`]);
    assert.equal(json.code, 0, json.stderr);
    const result = json.events.find((e) => e.event === 'result') as Record<string, unknown> & {
      runs: { seed: number; bpbAt: unknown[]; curve: unknown[]; shown: number; heldOutBpb: number }[];
      summary: { heldOutBpb: number }[];
      baselines: Record<string, unknown>;
    };
    assert.ok(result, json.stdout);
    assert.equal(json.events.filter((e) => e.event === 'run').length, 2);
    assert.deepEqual(
      result.runs.map((r) => r.seed),
      [1, 2],
    );
    assert.equal(result.summary.length, 1);
    assert.equal(result.runs[0].bpbAt.length, 4);
    assert.ok(result.runs[0].curve.length >= 2);
    assert.ok(typeof result.runs[0].shown === 'number');
    for (const r of result.runs) assert.ok(Number.isFinite(r.heldOutBpb) && r.heldOutBpb > 0);
    assert.ok(
      Math.abs(result.summary[0].heldOutBpb - (result.runs[0].heldOutBpb + result.runs[1].heldOutBpb) / 2) < 1e-9,
    );
    for (const k of ['xzAlone', 'xzGivenTrain', 'heldOutBytes', 'trainBytes']) assert.ok(k in result.baselines, k);
    const heldOut = (json.events.find((e) => e.event === 'baselines') as { heldOutFiles: string[] }).heldOutFiles;
    assert.ok(heldOut.length > 0);
  });

  it('refuses an unknown variant word and a missing budget before training', async () => {
    const dir = await corpusDir();
    const r = await runCli(['experiment', dir, '--variants', 'gpt2+warp', '--tokens', '100']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unknown variant word 'warp'/);
    const none = await runCli(['experiment', dir]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /--minutes N or --tokens N/);
  });

  it('composes variants from words, and reads budgets off a curve', () => {
    const c = variantConfig('modern+adamw+ctx32', 'tiny');
    assert.equal(c.model.positionEncoding, 'rotary');
    assert.equal(c.optimizer, 'adamw');
    assert.equal(c.schedule, 'wsd');
    assert.equal(c.model.contextLength, 32);
    const g = variantConfig('gpt2', 'tiny');
    assert.equal(g.model.untiedHead, undefined);
    assert.equal(g.model.positionEncoding, 'learned');
    assert.equal(g.optimizer, 'adamw');
    assert.equal(g.schedule, 'cosine');
    // `modern` is --arch modern (Muon + AdamW); `adamw` is a word on top.
    assert.equal(variantConfig('modern', 'tiny').optimizer, 'muon');
    assert.equal(variantConfig('modern+adamw', 'tiny').optimizer, 'adamw');
    assert.equal(variantConfig('gpt2+muon', 'tiny').optimizer, 'muon');
    assert.equal(variantConfig('modern+vres+x0', 'tiny').model.valueResidual, true);
    assert.equal(variantConfig('modern+vres+x0', 'tiny').model.embedShortcut, true);
    assert.equal(variantConfig('modern+warmup10+decay0.5', 'tiny').warmupSteps, 10);
    assert.equal(variantConfig('modern+warmup10+decay0.5', 'tiny').decayFraction, 0.5);
    assert.equal(variantConfig('modern+passes8', 'tiny').maxPasses, 8);
    assert.equal(variantConfig('modern+drop0.1', 'tiny').dropout, 0.1);
    assert.equal(variantConfig('modern+muonwd0.2', 'tiny').muonWeightDecay, 0.2);
    assert.equal(variantConfig('modern', 'tiny').dropout, undefined);
    assert.equal(variantConfig('modern+gpt2', 'tiny').model.qkNorm, undefined);
    const curve = [
      { step: 0, tokens: 0, fraction: 0, valBpb: 8 },
      { step: 10, tokens: 100, fraction: 0.5, valBpb: 4 },
      { step: 20, tokens: 200, fraction: 1, valBpb: 2 },
    ];
    assert.equal(tokensToTarget(curve, 3), 150);
    assert.equal(tokensToTarget(curve, 1), null);
    assert.deepEqual(
      bpbAtFractions(curve, [0.5, 1]).map((p) => p.valBpb),
      [4, 2],
    );
  });
});
