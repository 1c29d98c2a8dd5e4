import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LOCK_FILE, loadCheckpoint } from '../../src/core/checkpoint';
import { CliProcess, corpusDir, historySteps, runCli, TINY, tmpDir } from './support';

describe('fault: two processes train into one folder', function () {
  this.timeout(120_000);

  it('one holds the lock, the other gets LOCKED and writes nothing; a SIGKILLed holder leaves a lock that is recovered', async () => {
    const corpus = await corpusDir();
    const out = path.join(await tmpDir(), 'model');
    const first = new CliProcess(['train', corpus, '--out', out, '--steps', '2000', ...TINY, '--json']);
    assert.ok(await first.waitFor((e) => e.event === 'progress'), first.describe());
    const owner = JSON.parse(await fs.readFile(path.join(out, LOCK_FILE), 'utf8')) as { pid: number };
    assert.equal(owner.pid, first.child.pid);

    // --force would replace the model: the lock must stop it before it clears anything.
    const second = await runCli(['train', corpus, '--out', out, '--force', '--steps', '3', ...TINY, '--json']);
    assert.equal(second.code, 1, second.stderr);
    assert.equal(second.last?.event, 'error');
    assert.equal(second.last?.code, 'LOCKED', JSON.stringify(second.last));
    assert.match(String(second.last?.message), new RegExp(`in use by process ${first.child.pid}`));
    const resume = await runCli(['train', corpus, '--out', out, '--resume', '--steps', '3', '--json']);
    assert.equal(resume.last?.code, 'LOCKED', JSON.stringify(resume.last));

    // The first run is still training, past a checkpoint; then it dies without releasing its lock.
    assert.ok(await first.waitFor((e) => e.event === 'progress' && (e.step as number) >= 205), first.describe());
    await first.kill('SIGKILL');
    assert.equal(JSON.parse(await fs.readFile(path.join(out, LOCK_FILE), 'utf8')).pid, first.child.pid);
    const ckpt = await loadCheckpoint(out);

    const recovered = await runCli(['train', corpus, '--out', out, '--resume', '--steps', '3', '--json']);
    assert.equal(recovered.code, 0, recovered.stderr + JSON.stringify(recovered.last));
    assert.equal(recovered.last?.step, ckpt.step + 3);
    // The second run's steps never reached the history: no step twice, none out of order.
    const steps = await historySteps(out);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i] > steps[i - 1], `history: ${steps}`);
    await assert.rejects(fs.stat(path.join(out, LOCK_FILE)), 'the lock outlived its run');
  });
});
