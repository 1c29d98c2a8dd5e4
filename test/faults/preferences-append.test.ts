import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { readPreferences } from '../../src/core/data/preferences';
import { tmpDir } from './support';

/**
 * A ranking is saved as its C(K, 2) preference pairs, one line each; the ranking board says "saved" once
 * appendPreferences has returned. A writer killed at random moments, again and again, must lose, tear or
 * duplicate none of the pairs of a ranking it acknowledged.
 */
describe('fault: the process is killed in the middle of preference appends, many times', function () {
  this.timeout(120_000);

  it('no pair of an acknowledged ranking is lost, torn or duplicated; a cut line is reported, never misread', async () => {
    const file = path.join(await tmpDir(), 'preferences.jsonl');
    const module = path.resolve(__dirname, '../../src/core/data/preferences.js');
    // Ranking n ranks 4 completions (6 pairs; long texts so a write can be cut) and is printed once appended.
    const script = `
      const { appendPreferences, rankingToPairs } = require(${JSON.stringify(module)});
      (async () => {
        for (let n = Number(process.argv[1]); ; n++) {
          const completions = [0, 1, 2, 3].map((k) => 'c' + k + ':' + 'x'.repeat(1500 + ((n + k) % 5) * 700) + ':' + n);
          await appendPreferences(${JSON.stringify(file)}, rankingToPairs('p' + n, { completions, ranks: [0, 1, 2, 3] }));
          process.stdout.write(n + '\\n');
        }
      })();`;
    const acknowledged: number[] = [];
    let next = 0;
    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, ['-e', script, String(next)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      // Kill at a random moment once it is appending (loading the module takes a while).
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d) => {
          if (!out) setTimeout(resolve, Math.random() * 150);
          out += d;
        });
        child.on('exit', () => resolve());
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const acked = out
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
      acknowledged.push(...acked);
      next = (acked.length ? acked[acked.length - 1] : next) + 1000; // fresh numbers: a duplicate would show
    }
    assert.ok(acknowledged.length > 10, `only ${acknowledged.length} rankings acknowledged`);

    const { records, problems } = await readPreferences(file);
    const keys = records.map((r) => `${r.prompt}|${r.chosen.slice(0, 2)}>${r.rejected.slice(0, 2)}`);
    assert.equal(new Set(keys).size, keys.length, 'a pair was duplicated');
    for (const r of records) {
      const n = r.prompt.slice(1);
      assert.ok(r.chosen.endsWith(':' + n) && r.rejected.endsWith(':' + n), `a line of ranking ${n} was torn`);
      assert.deepEqual(r.ranking?.ranks, [0, 1, 2, 3], `ranking ${n} was misread`);
    }
    for (const n of acknowledged) {
      const pairs = records.filter((r) => r.prompt === `p${n}`).length;
      assert.equal(pairs, 6, `acknowledged ranking ${n} has ${pairs} of its 6 pairs`);
    }
    // Only a line the writer never acknowledged may be cut short (at most one per kill), and it is reported.
    assert.ok(problems.length <= rounds, JSON.stringify(problems));
    for (const p of problems) assert.equal(p.message, 'not valid JSON');
  });
});
