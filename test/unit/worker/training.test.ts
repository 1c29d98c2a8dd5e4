import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadCheckpoint, readHistory, saveCheckpoint } from '../../../src/core/checkpoint';
import { acquireFolderLock, LOCK_FILE } from '../../../src/core/checkpoint/lock';
import { COMPLETION_EVAL_FILE } from '../../../src/core/complete/modelEval';
import { defaultTrainConfig, TrainConfig } from '../../../src/core/train/config';
import type { WorkerEvent, WorkerRequests } from '../../../src/protocol/worker';
import { toWire } from '../../../src/worker/errors';
import { deleteModel, runTraining, stopTraining } from '../../../src/worker/training';
import { codeFiles, numTensors, useWasm } from '../helpers/tf';

function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return defaultTrainConfig('tiny', {
    model: { vocabSize: 300, contextLength: 32, nEmbd: 16, nLayer: 1, nHead: 2, positionEncoding: 'learned' },
    batchSize: 2,
    maxMinutes: undefined,
    maxSteps: 3,
    evalInterval: 1000,
    evalBatches: 1,
    logInterval: 1,
    warmupSteps: 1,
    ...overrides,
  });
}

function request(modelDir: string, resume: boolean, cfg = config()): WorkerRequests['train'][0] {
  const files = codeFiles(4);
  return {
    corpus: {
      root: '/workspace',
      files,
      summary: { files: files.length, bytes: 0, languages: [], skipped: {} } as never,
      languageIds: ['typescript'],
    },
    config: cfg,
    modelDir,
    resume,
  };
}

/** The worker's events, and a way to act on one as it is emitted. */
function recorder(onEvent: (e: WorkerEvent['event'], data: WorkerEvent['data']) => void = () => undefined) {
  const logs: string[] = [];
  const emit = (event: WorkerEvent['event'], data: WorkerEvent['data']) => {
    if (event === 'log') logs.push((data as { message: string }).message);
    onEvent(event, data);
  };
  return { logs, emit };
}

async function tmpDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-worker-train-'));
}

describe('training in the worker', function () {
  this.timeout(120_000);
  before(useWasm);

  it('skips the held-out completion evaluation after Stop: the user gets the model at once', async () => {
    const dir = await tmpDir();
    const { logs, emit } = recorder((e) => e === 'progress' && stopTraining());
    const r = await runTraining(request(dir, false, config({ maxSteps: 1000 })), emit);
    assert.equal(r.stopped, 'cancelled');
    assert.ok(r.step < 1000);
    assert.ok(!logs.some((m) => /evaluating completions/.test(m)), logs.join('\n'));
    assert.ok(!existsSync(path.join(dir, COMPLETION_EVAL_FILE)));
  });

  it('evaluates completions after a run that used its whole budget', async () => {
    const dir = await tmpDir();
    const { logs, emit } = recorder();
    const r = await runTraining(request(dir, false), emit);
    assert.equal(r.stopped, 'budget');
    assert.ok(logs.some((m) => /evaluating completions/.test(m)));
    assert.ok(existsSync(path.join(dir, COMPLETION_EVAL_FILE)));
  });

  it("starts a fresh run in an existing folder without the previous model's history or completion figures", async () => {
    const dir = await tmpDir();
    await fs.writeFile(path.join(dir, 'history.jsonl'), JSON.stringify({ step: 0, valLoss: 99, valBpb: 99 }) + '\n');
    await fs.writeFile(path.join(dir, COMPLETION_EVAL_FILE), JSON.stringify({ mode: 'fim', exactMatch: 0.99 }));
    await fs.writeFile(path.join(dir, 'notes.txt'), 'mine');
    // Stopped at once: no new completion figures are written, so old ones would survive.
    const { emit } = recorder((e) => e === 'progress' && stopTraining());
    await runTraining(request(dir, false, config({ maxSteps: 1000 })), emit);
    const { records } = await readHistory(dir);
    assert.ok(records.length > 0);
    assert.ok(!records.some((r) => r.valLoss === 99), 'the old history is gone');
    assert.equal(records[0].step, 0);
    assert.ok(!existsSync(path.join(dir, COMPLETION_EVAL_FILE)), 'the old completion figures are gone');
    assert.equal(await fs.readFile(path.join(dir, 'notes.txt'), 'utf8'), 'mine', "the user's own file stays");
  });

  it('Delete Model removes everything a run wrote, completion figures included, and keeps other files', async () => {
    const dir = await tmpDir();
    await runTraining(request(dir, false), recorder().emit);
    assert.ok(existsSync(path.join(dir, COMPLETION_EVAL_FILE)));
    await fs.writeFile(path.join(dir, 'notes.txt'), 'mine');
    await deleteModel({ modelDir: dir });
    assert.deepEqual(await fs.readdir(dir), ['notes.txt']);
    await fs.rm(path.join(dir, 'notes.txt'));
    await runTraining(request(dir, false, config({ maxSteps: 1 })), recorder().emit);
    await deleteModel({ modelDir: dir });
    assert.ok(!existsSync(dir), 'a folder with nothing else in it goes too');
  });

  it('frees the model and optimizer of a resume that fails, and says why with a code', async () => {
    const dir = await tmpDir();
    await runTraining(request(dir, false), recorder().emit);
    // A checkpoint whose optimizer state does not fit the model: found only once both are built.
    const ckpt = await loadCheckpoint(dir);
    const optimizer = new Map([...ckpt.optimizer!].filter(([name]) => !name.startsWith('exp_avg_sq.')));
    await saveCheckpoint(dir, { ...ckpt, optimizer });
    const before = numTensors();
    const err = await runTraining(request(dir, true), recorder().emit).then(
      () => assert.fail('the resume should fail'),
      (e: unknown) => e,
    );
    assert.equal(numTensors(), before, 'the failed resume leaked tensors');
    assert.equal(toWire(err).code, 'BAD_CHECKPOINT', String(err));
  });

  it('refuses to train into a folder that another window or process trains into, saying who holds it', async () => {
    const dir = await tmpDir();
    const other = acquireFolderLock(dir, { purpose: 'gpt-lab train' }); // this test process plays the other one
    try {
      const err = await runTraining(request(dir, false), recorder().emit).then(
        () => assert.fail('two runs trained into one folder'),
        (e: unknown) => e,
      );
      assert.equal(toWire(err).code, 'LOCKED');
      assert.match((err as Error).message, new RegExp(`process ${process.pid} .*gpt-lab train`));
      assert.ok(!existsSync(path.join(dir, 'state.json')), 'nothing was written');
      await assert.rejects(deleteModel({ modelDir: dir }), /in use by process/);
    } finally {
      other.release();
    }
    await runTraining(request(dir, false, config({ maxSteps: 1 })), recorder().emit);
    assert.ok(!existsSync(path.join(dir, LOCK_FILE)), 'the run released its lock');
  });

  it('recovers the lock of a worker that was killed', async () => {
    const dir = await tmpDir();
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']);
    const pid = Number(dead.stdout.toString().trim());
    const owner = { pid, hostname: os.hostname(), startedAt: new Date().toISOString(), token: 'x' };
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify(owner));
    const { logs, emit } = recorder();
    const r = await runTraining(request(dir, false, config({ maxSteps: 1 })), emit);
    assert.equal(r.step, 1);
    assert.ok(
      logs.some((m) => /stale lock/.test(m)),
      logs.join('\n'),
    );
  });
});
