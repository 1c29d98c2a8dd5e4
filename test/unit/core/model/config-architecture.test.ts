import * as assert from 'node:assert/strict';
import { readFileSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { trainConfigFromOptions, trainPlan } from '../../../../src/cli/train';
import { loadCheckpoint } from '../../../../src/core/checkpoint';
import { exportModel, importModel } from '../../../../src/core/interop';
import {
  ARCHITECTURES,
  architectureOf,
  AUTO_BYTES_PER_TOKEN,
  AUTO_LADDER,
  AUTO_MAX_PASSES,
  AUTO_TOKENS_PER_PARAM,
  autoPreset,
  autoVocabSize,
  getPreset,
  GPT2_RECIPE,
  GPTConfig,
  MODERN_RECIPE,
  parameterCount,
  parseArchitecture,
  PRESETS,
  resolvePreset,
  withArchitecture,
} from '../../../../src/core/model/config';
import { defaultTrainConfig } from '../../../../src/core/train/config';
import { runCli } from '../../cli/run';
import { TINY, useWasm } from '../../helpers/tf';
import { corpusFolder, makeModelFolder, tmp } from '../../interop/support';

const isCode = (code: string, re: RegExp) => (e: Error & { code?: string }) => {
  assert.equal(e.code, code, e.message);
  assert.match(e.message, re);
  return true;
};

describe('architectures (gpt2 | modern), presets and the auto size', () => {
  it('gpt2 is every option off with AdamW and cosine; modern is MODERN_RECIPE with Muon and WSD', () => {
    const base = defaultTrainConfig('tiny');
    const gpt2 = withArchitecture(base, 'gpt2');
    assert.equal(gpt2.model.positionEncoding, 'learned');
    for (const k of Object.keys(GPT2_RECIPE)) assert.equal(k in gpt2.model, false, k);
    assert.equal(gpt2.optimizer, 'adamw');
    assert.equal(gpt2.schedule, 'cosine');
    assert.equal(architectureOf(gpt2.model), 'gpt2');
    const modern = withArchitecture(gpt2, 'modern');
    assert.deepEqual({ ...modern.model }, { ...gpt2.model, ...MODERN_RECIPE });
    assert.equal(modern.optimizer, 'muon');
    assert.equal(modern.schedule, 'wsd');
    assert.equal(architectureOf(modern.model), 'modern');
    // Sizes, rates and budget are the architecture's to leave alone; the input is not changed.
    assert.equal(modern.model.nEmbd, base.model.nEmbd);
    assert.equal(modern.learningRate, base.learningRate);
    assert.equal(base.model.positionEncoding, 'rotary');
    assert.throws(() => withArchitecture(base, 'bert' as never), isCode('BAD_CONFIG', /gpt2/));
  });

  it('every preset trains its declared architecture, and a model folder of either loads as that one', () => {
    for (const p of Object.values(PRESETS)) {
      const c = defaultTrainConfig(p.name);
      assert.equal(architectureOf(c.model), p.architecture, p.name);
      assert.equal(c.preset, p.name);
    }
    assert.equal(architectureOf(TINY), 'gpt2'); // a config.json saved before the options existed
    assert.equal(architectureOf({ ...TINY, qkNorm: true }), 'modern');
  });

  it('reads the setting: a known architecture as is, anything else as the default (modern)', () => {
    assert.equal(parseArchitecture('gpt2'), 'gpt2');
    assert.equal(parseArchitecture('modern'), 'modern');
    for (const junk of [undefined, null, '', 'GPT2', 3, {}]) assert.equal(parseArchitecture(junk), 'modern');
  });

  it('declares the settings package.json offers: the architecture enum and auto among the presets', () => {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '../../../../../package.json'), 'utf8'));
    const props = pkg.contributes.configuration.properties;
    const arch = props['gptLab.training.architecture'];
    assert.deepEqual([...arch.enum].sort(), [...ARCHITECTURES].sort());
    assert.equal(arch.enumDescriptions.length, arch.enum.length);
    assert.equal(arch.default, parseArchitecture(undefined));
    const preset = props['gptLab.preset'];
    assert.deepEqual([...preset.enum].sort(), [...Object.keys(PRESETS), 'auto'].sort());
    assert.equal(preset.enumDescriptions.length, preset.enum.length);
  });

  it("states auto's switch points in the preset setting's description as autoPreset computes them", () => {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '../../../../../package.json'), 'utf8'));
    const preset = pkg.contributes.configuration.properties['gptLab.preset'];
    const text: string = preset.enumDescriptions[preset.enum.indexOf('auto')];
    const m = /tiny up to about (\d+) minutes, 3 layers × 96 up to about (\d+), small beyond/.exec(text);
    assert.ok(m, text);
    // A corpus large enough that passes never decide: only the minutes choose the size.
    const width = (minutes: number) => autoPreset({ corpusBytes: 1 << 30, minutes }).model.nEmbd;
    const [tinyUpTo, midUpTo] = [Number(m[1]), Number(m[2])];
    assert.equal(width(tinyUpTo), PRESETS.tiny.model.nEmbd);
    assert.equal(width(tinyUpTo + 1), 96);
    assert.equal(width(midUpTo), 96);
    assert.equal(width(midUpTo + 1), PRESETS.small.model.nEmbd);
  });

  it('auto: the smallest size for a few minutes, larger ones as the minutes grow, never smaller', () => {
    const sizes = [0.5, 2, 10, 30, 60, 240, 1440].map((minutes) => autoPreset({ corpusBytes: 4 << 20, minutes }));
    assert.deepEqual(sizes[1].model, PRESETS.tiny.model);
    const params = sizes.map((p) => parameterCount(p.model));
    for (let i = 1; i < params.length; i++) assert.ok(params[i] >= params[i - 1], `${params}`);
    assert.ok(params[params.length - 1] > params[0], 'a day buys a larger model than half a minute');
    assert.deepEqual(sizes[sizes.length - 1].model, PRESETS.small.model);
    for (const p of sizes) {
      assert.equal(p.name, 'auto');
      assert.ok(AUTO_LADDER.some((r) => r.preset.model.nEmbd === p.model.nEmbd));
      defaultTrainConfig(p, { maxMinutes: 1 }); // a valid training config
    }
    // Pure: the same corpus size and minutes give the same preset.
    assert.deepEqual(autoPreset({ corpusBytes: 1e5, minutes: 30 }), autoPreset({ corpusBytes: 1e5, minutes: 30 }));
  });

  it('auto: tiny where it beat 3 × 96 at equal CPU minutes (2 and 5), larger rungs at the tokens-per-parameter bar', () => {
    const at = (minutes: number) => autoPreset({ corpusBytes: 4 << 20, minutes });
    // docs/experiments.md §5: at 2 and 5 CPU-minutes tiny (2 × 64) was ahead of 3 × 96 on held-out bits per byte.
    for (const minutes of [2, 5]) assert.deepEqual(at(minutes).model, PRESETS.tiny.model, `${minutes} min`);
    const mid = AUTO_LADDER[1].preset.model;
    assert.deepEqual([mid.nLayer, mid.nEmbd, mid.contextLength], [3, 96, 64], 'mid is the shape that was measured');
    // A rung is taken once its planned tokens reach AUTO_TOKENS_PER_PARAM per parameter, and not before.
    const params = (m: GPTConfig) => parameterCount(withArchitecture({ model: m }, 'modern').model);
    for (const [i, rung] of AUTO_LADDER.entries()) {
      if (i === 0) continue;
      const threshold = (AUTO_TOKENS_PER_PARAM * params(rung.preset.model)) / (rung.tokensPerSecond * 60);
      assert.ok(threshold > 5, `${rung.preset.name} from ${threshold.toFixed(1)} min: not where tiny won`);
      assert.equal(at(threshold * 1.01).model.nEmbd, rung.preset.model.nEmbd, `${rung.preset.name} at its bar`);
      assert.notEqual(at(threshold * 0.99).model.nEmbd, rung.preset.model.nEmbd, `${rung.preset.name} below it`);
    }
  });

  it('auto: a larger size when the corpus, not the minutes, is short (it can train all its passes in time)', () => {
    const size = (corpusBytes: number, minutes: number) => autoPreset({ corpusBytes, minutes }).model.nEmbd;
    // asyncio's 425 kB: at 2 minutes only tiny finishes 8 passes; at 10 a larger size does, and is taken.
    assert.equal(size(424_605, 2), PRESETS.tiny.model.nEmbd);
    assert.ok(size(424_605, 10) > PRESETS.tiny.model.nEmbd);
    // The same minutes on a corpus 20× larger: compute is short, tiny stays.
    assert.equal(size(424_605 * 20, 10), PRESETS.tiny.model.nEmbd);
    // The rung is taken exactly when its passes fit in the minutes.
    const mid = AUTO_LADDER[1];
    const bytes = 1_000_000;
    const fits = (AUTO_MAX_PASSES * (bytes / AUTO_BYTES_PER_TOKEN)) / (mid.tokensPerSecond * 60);
    assert.equal(size(bytes, fits * 1.01), mid.preset.model.nEmbd);
    assert.equal(size(bytes, fits * 0.99), PRESETS.tiny.model.nEmbd);
    // Below 64 kB a larger context may not fit the corpus: tiny, whatever the minutes.
    assert.equal(size(48_000, 10), PRESETS.tiny.model.nEmbd);
  });

  it("auto's sizes at 2, 10 and 30 minutes on the codebases the README measures (the corpus walker's bytes)", () => {
    const rung = (corpusBytes: number, minutes: number) => {
      const m = autoPreset({ corpusBytes, minutes }).model;
      return AUTO_LADDER.find((r) => r.preset.model.nEmbd === m.nEmbd && r.preset.model.nLayer === m.nLayer)!.preset
        .name;
    };
    const codebases: [string, number, string[]][] = [
      ['eslint/lib', 2_902_047, ['tiny', 'tiny', 'mid']],
      ['setuptools', 2_080_017, ['tiny', 'tiny', 'mid']],
      ['asyncio', 486_893, ['tiny', 'small', 'small']],
      ['python3.11 stdlib', 10_699_971, ['tiny', 'tiny', 'mid']],
    ];
    for (const [name, bytes, sizes] of codebases) {
      assert.deepEqual(
        [2, 10, 30].map((minutes) => rung(bytes, minutes)),
        sizes,
        name,
      );
    }
  });

  it('auto: a smaller vocabulary for a small corpus, never more than the size has', () => {
    assert.equal(autoVocabSize(10_000, 2048), 512);
    assert.equal(autoVocabSize(200_000, 2048), 2048);
    assert.equal(autoVocabSize(10 << 20, 2048), 2048);
    assert.equal(autoVocabSize(10 << 20, 1024), 1024);
    assert.equal(autoPreset({ corpusBytes: 20_000, minutes: 2 }).model.vocabSize, 512);
    assert.equal(autoPreset({ corpusBytes: 20 << 20, minutes: 2 }).model.vocabSize, PRESETS.tiny.model.vocabSize);
    // 'auto' by name, without a corpus: the 2-minute size; other names as before.
    assert.deepEqual(getPreset('auto').model, autoPreset({}).model);
    assert.equal(resolvePreset('small', { minutes: 1 }), PRESETS.small);
    assert.throws(() => getPreset('huge'), isCode('UNKNOWN_PRESET', /tiny, small, base, auto/));
  });

  it('gpt-lab train --arch: gpt2 or modern over any preset, refused when unknown or on --resume', async () => {
    const o = { backend: 'wasm' as const };
    assert.equal(architectureOf(trainConfigFromOptions(o).model), 'modern');
    const gpt2 = trainConfigFromOptions({ ...o, arch: 'gpt2', preset: 'small', embd: '96', heads: '4' });
    assert.equal(architectureOf(gpt2.model), 'gpt2');
    assert.equal(gpt2.schedule, 'cosine');
    assert.equal(gpt2.model.nEmbd, 96); // sizes still apply
    assert.equal(gpt2.model.contextLength, PRESETS.small.model.contextLength);
    assert.throws(() => trainConfigFromOptions({ ...o, arch: 'bert' }), isCode('BAD_OPTION', /--arch.*modern, gpt2/));
    assert.throws(() => trainPlan({ ...o, resume: true, arch: 'gpt2' }), isCode('BAD_OPTION', /--arch/));
    // --preset auto sizes for the corpus once it is known, and for the minutes.
    const auto = trainConfigFromOptions({ ...o, preset: 'auto', minutes: '2' }, 30_000);
    assert.equal(auto.model.vocabSize, 512);
    assert.equal(auto.preset, 'auto');
    const long = trainConfigFromOptions({ ...o, preset: 'auto', minutes: '600' }, 30 << 20);
    assert.ok(parameterCount(long.model) > parameterCount(auto.model));
    // Through the command line: an unknown architecture fails before anything is read.
    const run = await runCli(['train', await tmp(), '--arch', 'bert', '--json']);
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /--arch must be one of: modern, gpt2/);
  });

  describe('export', function () {
    this.timeout(120000);
    before(useWasm);

    async function exported(
      model: GPTConfig,
    ): Promise<{ config: Record<string, unknown>; names: string[]; dir: string; out: string }> {
      const dir = path.join(await tmp(), 'model');
      await makeModelFolder(dir, model, { corpusRoot: await corpusFolder() });
      const out = path.join(await tmp(), 'export');
      const r = await exportModel({ modelDir: dir, outDir: out, corpus: false });
      const config = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8'));
      return { config, names: r.tensors, dir, out };
    }

    it('gpt2 exports as Hugging Face GPT2LMHeadModel; modern under its own names, marked as not loadable there', async () => {
      const gpt2 = await exported(withArchitecture({ model: TINY }, 'gpt2').model);
      assert.deepEqual(gpt2.config.architectures, ['GPT2LMHeadModel']);
      assert.equal(gpt2.config.model_type, 'gpt2');
      assert.ok(
        gpt2.names.includes('transformer.wpe.weight') && gpt2.names.includes('transformer.h.0.attn.c_attn.bias'),
      );

      const modern = await exported(withArchitecture({ model: TINY }, 'modern').model);
      assert.equal(modern.config.architectures, undefined);
      // Its own model_type: transformers' Auto classes refuse it instead of computing it as GPT-2.
      assert.equal(modern.config.model_type, 'gpt_lab_modern');
      const lab = modern.config.gpt_lab as Record<string, unknown>;
      assert.equal(lab.hf_compatible, false);
      assert.ok((lab.hf_incompatible as string[]).includes('rotary positions'));
      assert.equal((lab.model as GPTConfig).qkNorm, true);
      // docs/weights.md: no wpe, no biases, an untied lm_head [vocab, nEmbd], GPT-2's names for the rest.
      assert.equal(modern.names.includes('transformer.wpe.weight'), false);
      assert.equal(
        modern.names.some((n) => n.endsWith('.bias')),
        false,
      );
      assert.ok(modern.names.includes('lm_head.weight'));
      assert.ok(modern.names.includes('transformer.h.1.mlp.c_proj.weight'));
      // …and comes back as the same modern model.
      const back = await importModel({ fromDir: modern.out, outDir: path.join(await tmp(), 'imported') });
      const a = await loadCheckpoint(modern.dir);
      const b = await loadCheckpoint(back.outDir);
      assert.equal(architectureOf(b.config.model as GPTConfig), 'modern');
      for (const [name, t] of a.weights) assert.deepEqual(b.weights.get(name)!.data, t.data, name);
    });
  });
});
