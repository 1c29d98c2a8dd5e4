import { strict as assert } from 'node:assert';
import { GPT } from '../../../../src/core/model/gpt';
import { Rng } from '../../../../src/core/rng';
import { trainTokenizer } from '../../../../src/core/tokenizer';
import { defaultTrainConfig } from '../../../../src/core/train/config';
import { buildDataset, sampleBatch } from '../../../../src/core/train/data';
import { buildOptimizer, optimizerStep } from '../../../../src/core/train/loop';
import { AdaptiveReplicas, replicasWin } from '../../../../src/core/train/parallel/adaptive';
import { PretrainTask } from '../../../../src/core/train/pretrainTask';
import { codeFiles, useWasm } from '../../helpers/tf';

describe("data parallelism 'auto': measure, keep the faster", function () {
  this.timeout(120_000);
  before(useWasm);

  it('keeps replicas only when their steps are clearly faster (first step of each left out)', () => {
    assert.equal(replicasWin([900, 100, 100, 100], [900, 60, 60, 60]), true);
    assert.equal(replicasWin([900, 100, 100, 100], [10, 99, 99, 99]), false, 'within the noise margin');
    assert.equal(replicasWin([900, 100, 100, 100], [10, 150, 150, 150]), false);
  });

  it('times one thread, then the replicas, decides, and trains as one thread would throughout', async () => {
    const cfg = defaultTrainConfig('tiny', {
      model: { vocabSize: 300, contextLength: 32, nEmbd: 32, nLayer: 2, nHead: 2, positionEncoding: 'learned' },
      batchSize: 4,
      maxSteps: 10,
      maxMinutes: undefined,
    });
    const bytes = codeFiles(4).map((f) => f.bytes);
    const tokenizer = trainTokenizer(bytes, { vocabSize: 300 });
    const data = buildDataset(tokenizer, bytes, bytes, { fimRate: 0, seed: 1, fimChunkTokens: 16 });
    cfg.model.vocabSize = tokenizer.vocabSize;
    const models = [GPT.create(cfg.model, 5), GPT.create(cfg.model, 5)];
    const [task, single] = models.map((m) => new PretrainTask(m, tokenizer, data, cfg));
    const [opt, opt1] = models.map((m) => buildOptimizer(m.params, cfg));
    const logs: string[] = [];
    const adaptive = new AdaptiveReplicas(2, cfg, (m) => logs.push(m), 2);
    const seen: number[] = [];
    try {
      await adaptive.start(models[0], models[0].params, opt);
      const rng = new Rng(9);
      for (let s = 0; s < 10; s++) {
        const batch = sampleBatch(data.train, cfg.batchSize, cfg.model.contextLength, rng);
        seen.push(adaptive.replicas);
        const r = await adaptive.step(task, batch, 1e-2, 1);
        const r1 = optimizerStep(single, opt1, batch, 1e-2, 1);
        assert.ok(Math.abs(r.loss - r1.loss) < 1e-4, `step ${s + 1}: ${r.loss} vs ${r1.loss}`);
      }
    } finally {
      await adaptive.dispose();
      [opt, opt1].forEach((o) => o.dispose());
      models.forEach((m) => m.dispose());
    }
    // 3 steps on one thread (2 timed after warm-up), 3 on replicas, then whichever was faster.
    assert.deepEqual(seen.slice(0, 6), [1, 1, 1, 2, 2, 2]);
    const decision = logs.find((l) => /keeping 2 replicas|training on one thread/.test(l));
    assert.ok(decision, logs.join('\n'));
    assert.ok(seen.slice(6).every((n) => n === (/keeping/.test(decision) ? 2 : 1)));
  });
});
