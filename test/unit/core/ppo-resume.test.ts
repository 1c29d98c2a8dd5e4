import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/model/persist';
import { PpoRequest, trainPpo } from '../../../src/core/train/align';
import { defaultTrainConfig } from '../../../src/core/train/config';
import { pretrain } from '../../../src/core/train/trainer';
import { codeFiles, useWasm } from '../helpers/tf';

describe('PPO resume (Stage 3)', () => {
  before(useWasm);

  it('a stopped run, resumed, ends where an uninterrupted one does: losses, metrics and weights', async function () {
    this.timeout(180_000);
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-ppo-resume-'));
    try {
      const base = path.join(root, 'base');
      await pretrain({
        files: codeFiles(3),
        config: defaultTrainConfig('tiny', {
          model: { vocabSize: 280, contextLength: 24, nEmbd: 16, nLayer: 1, nHead: 2, positionEncoding: 'learned' },
          batchSize: 4,
          maxMinutes: undefined,
          maxSteps: 6,
          learningRate: 1e-2,
          evalInterval: 6,
          warmupSteps: 1,
        }),
        outDir: base,
      });
      const { tokenizer } = await loadModel(base).then((m) => (m.model.dispose(), m));
      // A rule that prefers digits: the policy moves, so a resume that lost any state would show.
      const digits = (ids: number[]) => {
        const text = tokenizer.decodeText(ids.filter((t) => t < 256 || t > 259));
        return text.length ? [...text].filter((c) => c >= '0' && c <= '9').length / text.length : 0;
      };
      // Odd steps stop inside a rollout: its second PPO epoch must reuse the same samples after the resume.
      const common: PpoRequest = {
        parentDir: base,
        outDir: '',
        prompts: ['return a + ', 'export function add', '  return ', 'const x = ', 'let y = '].map((prompt) => ({
          prompt,
        })),
        scorer: (rows) => rows.map((row) => digits(row.response)),
        maxSteps: 7,
        learningRate: 1e-2,
        batchSize: 4,
        ppo: { maxNewTokens: 4, ppoEpochs: 2 },
      };
      const full = await trainPpo({ ...common, outDir: path.join(root, 'full') });
      const cut = path.join(root, 'cut');
      let steps = 0;
      const first = await trainPpo({
        ...common,
        outDir: cut,
        hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
      });
      assert.equal(first.stopped, 'cancelled');
      assert.equal(first.step, 3);
      const rest = await trainPpo({ ...common, maxSteps: undefined, outDir: cut, resume: true });
      assert.equal(rest.step, 7);
      assert.deepEqual([...first.losses, ...rest.losses], full.losses, 'the same loss at every step');
      assert.equal(rest.metrics.reward, full.metrics.reward);
      assert.equal(rest.metrics.kl, full.metrics.kl);
      const weights = async (dir: string) => {
        const m = await loadModel(dir);
        const w = m.model.weights();
        m.model.dispose();
        return w;
      };
      const [a, b] = [await weights(path.join(root, 'full')), await weights(cut)];
      assert.ok(a.has('v_head.weight'), 'the value head is saved');
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
      for (const [name, x] of a) {
        const y = b.get(name)!;
        const diff = x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
        assert.ok(diff <= 1e-6, `${name} differs by ${diff}`);
      }
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
