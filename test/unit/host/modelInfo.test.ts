import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import { readModelInfo } from '../../../src/core/model/info';
import { pretrainAndEvaluate } from '../../../src/core/train/pretrainAndEvaluate';
import { codeFiles, useWasm } from '../helpers/tf';
import { tinyTrainConfig, tmpDir } from '../helpers/train';

type Markdown = (typeof import('../../../src/host/commands/modelInfo'))['modelInfoMarkdown'];

describe('Model Info with a damaged history.jsonl', function () {
  this.timeout(120_000);
  let modelInfoMarkdown: Markdown;
  let modelDir: string;
  // modelInfo.ts imports 'vscode' (for the command); the Markdown needs none of it.
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = M._resolveFilename;
  before(async () => {
    M._resolveFilename = function (request: string, ...rest: unknown[]) {
      return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
    };
    require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: {} } as NodeJS.Module;
    ({ modelInfoMarkdown } = await import('../../../src/host/commands/modelInfo.js'));
    await useWasm();
    modelDir = await tmpDir('model-info');
    const r = await pretrainAndEvaluate({
      files: codeFiles(4),
      config: tinyTrainConfig({ maxSteps: 4 }),
      outDir: modelDir,
      completions: false,
    });
    assert.equal(r.result.step, 4);
  });
  after(() => {
    M._resolveFilename = resolve;
    delete require.cache.vscode;
  });

  it('a whole history: nothing skipped, no History row', async () => {
    const info = await readModelInfo(modelDir);
    assert.ok(info);
    assert.equal(info.historySkipped, 0);
    assert.ok(info.valLoss !== undefined);
    assert.doesNotMatch(modelInfoMarkdown(info), /\| History \|/);
    // The finished pre-training measured every held-out token once and recorded it for this step.
    assert.ok(info.heldOut && info.heldOut.bitsPerByte > 0, JSON.stringify(info.heldOut));
    assert.equal(info.heldOut.scoredTokens, info.heldOut.totalTokens);
    assert.match(
      modelInfoMarkdown(info),
      /\| Held-out bits per byte \(lower is better\) \| \d+\.\d{3} on all \d+ held-out tokens/,
    );
  });

  it('skips damaged lines, takes its figures from the whole ones, and says how many were skipped', async () => {
    const file = path.join(modelDir, 'history.jsonl');
    const lines = [
      '{"step":1,"valLoss":5.5,"valBpb":7}',
      'not json',
      '{"step":2,"loss":5.2}',
      '[1, 2, 3]',
      '{"valLoss":0.1}', // no step
      '{"step":"3","valLoss":0.2}', // a step that is not a number
      '{"step":4,"valLoss":4.25,"valBpb":6}',
      '{"step":4,"valL', // cut by a crash
    ];
    await fs.writeFile(file, lines.join('\n'));
    const info = await readModelInfo(modelDir);
    assert.ok(info);
    assert.equal(info.historySkipped, 5);
    assert.equal(info.initialValLoss, 5.5);
    assert.equal(info.valLoss, 4.25);
    assert.equal(info.valBpb, 6);
    const md = modelInfoMarkdown(info);
    assert.match(md, /\| History \| 5 damaged lines of history\.jsonl skipped/);
    assert.match(md, /4\.250 nats\/token/);

    await fs.writeFile(file, lines.slice(0, 2).join('\n') + '\n');
    assert.match(modelInfoMarkdown((await readModelInfo(modelDir))!), /\| History \| 1 damaged line of/);
  });

  it('a history that cannot be read at all: Model Info still opens and says so', async () => {
    const file = path.join(modelDir, 'history.jsonl');
    await fs.rm(file, { force: true });
    await fs.mkdir(file); // EISDIR on read
    try {
      const info = await readModelInfo(modelDir);
      assert.ok(info);
      assert.equal(info.historyError, 'EISDIR');
      assert.equal(info.valLoss, undefined);
      assert.match(modelInfoMarkdown(info), /history\.jsonl could not be read \(EISDIR\)/);
    } finally {
      await fs.rmdir(file);
    }
  });
});
