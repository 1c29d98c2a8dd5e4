import { strict as assert } from 'node:assert';
import { GptLabError } from '../../../src/core/errors';
import { errorCode, fromWorker, WorkerError } from '../../../src/host/errors';
import { toWire } from '../../../src/worker/errors';

describe('one error family across core, worker and host', () => {
  it('a core GptLabError crosses worker → host with its code and message, and is a GptLabError there', () => {
    const e = fromWorker(toWire(new GptLabError('The model folder is in use by process 7.', 'LOCKED')));
    assert.ok(e instanceof GptLabError);
    assert.ok(e instanceof WorkerError);
    assert.equal(e.code, 'LOCKED');
    assert.equal(e.message, 'The model folder is in use by process 7.');
    assert.equal(errorCode(e), 'LOCKED');
  });

  it('only what no GptLabError describes is INTERNAL', () => {
    const stderr = console.error;
    console.error = () => undefined; // toWire logs the stack of a bug
    try {
      assert.deepEqual(toWire(new TypeError('x is undefined')), { code: 'INTERNAL', message: 'x is undefined' });
    } finally {
      console.error = stderr;
    }
    assert.equal(errorCode(new Error('plain')), 'INTERNAL');
    assert.equal(errorCode(new WorkerError('The GPT Lab worker was stopped.', 'WORKER_STOPPED')), 'WORKER_STOPPED');
  });
});
