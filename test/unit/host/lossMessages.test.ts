import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHistory } from '../../../src/core/checkpoint';
import { historyView } from '../../../src/host/panels/lossMessages';

/** What the training panel gets from a model folder's history.jsonl (the panel's own read, error included). */
async function view(write: (dir: string) => Promise<void>) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-loss-'));
  await write(dir);
  return historyView(await readHistory(dir).catch((error: unknown) => ({ error })));
}

describe('training panel: history.jsonl as the chart sees it', () => {
  it('draws a whole history without a notice, and none for a folder with no history yet', async () => {
    const ok = await view((d) =>
      fs.writeFile(path.join(d, 'history.jsonl'), '{"step":0,"valLoss":5}\n{"step":2,"loss":4.5}\n'),
    );
    assert.deepEqual(
      ok.points.map((p) => p.step),
      [0, 2],
    );
    assert.equal(ok.notice, undefined);
    const none = await view(async () => undefined);
    assert.deepEqual(none, { points: [] });
  });

  it('says which lines of a damaged history were left out, and still draws the rest', async () => {
    const v = await view((d) =>
      fs.writeFile(
        path.join(d, 'history.jsonl'),
        '{"step":0,"valLoss":5}\nnot json\n{"loss":3}\n{"step":4,"loss":4}\n',
      ),
    );
    assert.deepEqual(
      v.points.map((p) => p.step),
      [0, 4],
    );
    assert.match(v.notice ?? '', /damaged/);
    assert.match(v.notice ?? '', /line 2 is not valid JSON/);
    assert.match(v.notice ?? '', /1 record has no step/);
  });

  it('says so when the history cannot be read at all, instead of showing an empty chart without a word', async () => {
    const v = await view((d) => fs.mkdir(path.join(d, 'history.jsonl'))); // EISDIR
    assert.deepEqual(v.points, []);
    assert.match(v.notice ?? '', /could not be read/);
    assert.match(v.notice ?? '', /EISDIR/);
  });
});
