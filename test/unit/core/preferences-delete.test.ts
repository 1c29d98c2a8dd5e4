import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  appendPreferences,
  deletePreference,
  readPreferenceLines,
  readPreferences,
} from '../../../src/core/data/preferences';

const pair = (i: number, time = '2026-12-01T00:00:00.000Z') => ({
  prompt: `// add ${i}\n`,
  chosen: `return a + ${i};`,
  rejected: `return a - ${i};`,
  time,
});
const line = (o: object) => JSON.stringify(o) + '\n';

describe('deleting one preference pair', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-prefs-'));
    file = path.join(dir, 'preferences.jsonl');
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('removes exactly that line; every other line, a damaged one and CRLF included, stays byte for byte', async () => {
    const damaged = '{"prompt": "torn\n';
    const crlf = JSON.stringify(pair(4)) + '\r\n';
    const before = line(pair(1)) + damaged + line(pair(2)) + crlf + line(pair(3));
    await fs.writeFile(file, before);
    const lines = await readPreferenceLines(file);
    assert.deepEqual(
      lines.map((l) => l.line),
      [1, 3, 4, 5],
      'valid pairs with their line numbers; the damaged line 2 is not one',
    );
    assert.ok(await deletePreference(file, lines[1]));
    const after = await fs.readFile(file, 'utf8');
    assert.equal(after, line(pair(1)) + damaged + crlf + line(pair(3)));
    const { records, problems } = await readPreferences(file);
    assert.deepEqual(
      records.map((r) => r.chosen),
      ['return a + 1;', 'return a + 4;', 'return a + 3;'],
    );
    assert.deepEqual(
      problems.map((p) => p.line),
      [2],
      'the damaged line is still reported, at its place',
    );
    const left = await fs.readdir(dir);
    assert.deepEqual(left, ['preferences.jsonl'], 'no temp file is left behind');
  });

  it('finds the pair on another line when the file changed since it was listed; a pair not there is refused', async () => {
    await appendPreferences(file, [pair(1), pair(2), pair(3)]);
    const listed = (await readPreferenceLines(file))[2]; // pair 3 on line 3
    // Meanwhile line 1 went away (deleted in another window): pair 3 is on line 2 now.
    assert.ok(await deletePreference(file, (await readPreferenceLines(file))[0]));
    assert.ok(await deletePreference(file, listed));
    assert.deepEqual(
      (await readPreferences(file)).records.map((r) => r.chosen),
      ['return a + 2;'],
    );
    assert.equal(await deletePreference(file, listed), false, 'already gone');
    // Same texts, another time: a different pair (a second ranking of the same prompt) is not deleted for it.
    assert.equal(await deletePreference(file, { line: 1, preference: pair(2, '2030-01-01T00:00:00.000Z') }), false);
    assert.equal((await readPreferences(file)).records.length, 1);
  });

  it('deleting the last unterminated line keeps the line before it whole; an append after it stays parseable', async () => {
    await fs.writeFile(file, line(pair(1)) + JSON.stringify(pair(2)));
    const [, last] = await readPreferenceLines(file);
    assert.ok(await deletePreference(file, last));
    assert.equal(await fs.readFile(file, 'utf8'), line(pair(1)));
    await appendPreferences(file, [pair(5)]);
    const { records, problems } = await readPreferences(file);
    assert.deepEqual(problems, []);
    assert.equal(records.length, 2);
  });

  it('a missing file has nothing to delete', async () => {
    assert.equal(await deletePreference(path.join(dir, 'none.jsonl'), { line: 1, preference: pair(1) }), false);
    assert.deepEqual(await readPreferenceLines(path.join(dir, 'none.jsonl')), []);
  });
});
