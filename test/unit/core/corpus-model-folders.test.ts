import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MODEL_CONFIG_FORMAT } from '../../../src/core/checkpoint';
import { COMPLETION_EVAL_FILE } from '../../../src/core/complete/modelEval';
import { readCorpus } from '../../../src/core/corpus';
import { CONFIG_FORMAT } from '../../../src/core/model/persist';

describe('corpus and model folders', () => {
  it('never reads a GPT Lab model folder, nor a folder it is told to skip', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-corpus-'));
    await fs.writeFile(path.join(root, 'a.ts'), 'export const a = 1;\n');
    const model = path.join(root, 'models', 'm');
    await fs.mkdir(model, { recursive: true });
    await fs.writeFile(path.join(model, 'config.json'), JSON.stringify({ format: CONFIG_FORMAT, model: {} }));
    await fs.writeFile(path.join(model, 'notes.ts'), 'export const b = 2;\n');
    const skip = path.join(root, 'out-here');
    await fs.mkdir(skip);
    await fs.writeFile(path.join(skip, 'c.ts'), 'export const c = 3;\n');
    // A user's own config.json is content like any other.
    await fs.mkdir(path.join(root, 'app'));
    await fs.writeFile(path.join(root, 'app', 'config.json'), '{"port": 8080}\n');

    const corpus = await readCorpus(root, { skipDirs: [skip] });
    assert.deepEqual(corpus.files.map((f) => f.path).sort(), ['a.ts', 'app/config.json']);
  });

  it('reads only the user files of a root that is itself a model folder', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-corpus-'));
    await fs.writeFile(path.join(root, 'config.json'), JSON.stringify({ format: CONFIG_FORMAT, model: {} }));
    await fs.writeFile(path.join(root, 'history.jsonl'), '{"step":0}\n');
    await fs.writeFile(path.join(root, 'a.ts'), 'export const a = 1;\n');
    const corpus = await readCorpus(root);
    assert.deepEqual(
      corpus.files.map((f) => f.path),
      ['a.ts'],
    );
  });

  it('agrees with the names the model and evaluation code write', () => {
    assert.equal(MODEL_CONFIG_FORMAT, CONFIG_FORMAT);
    assert.equal(COMPLETION_EVAL_FILE, 'completion-eval.json');
  });
});
