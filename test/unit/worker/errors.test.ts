import { strict as assert } from 'node:assert';
import { GptLabError } from '../../../src/core/errors';
import { toWire } from '../../../src/worker/errors';

function errno(code: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, write`), { code, ...(path && { path }) });
}

describe('worker errors on the wire', () => {
  it('keep a GptLabError as it is', () => {
    assert.deepEqual(toWire(new GptLabError('The model folder is in use.', 'LOCKED')), {
      code: 'LOCKED',
      message: 'The model folder is in use.',
    });
  });

  it('say a full disk as DISK_FULL and an unwritable folder as NOT_WRITABLE, as the CLI does', () => {
    for (const code of ['ENOSPC', 'EDQUOT']) assert.equal(toWire(errno(code)).code, 'DISK_FULL', code);
    for (const code of ['EROFS', 'EACCES', 'EPERM']) assert.equal(toWire(errno(code)).code, 'NOT_WRITABLE', code);
    assert.match(toWire(errno('ENOSPC')).message, /disk is full/);
    assert.match(
      toWire(errno('EROFS', '/m/model.safetensors')).message,
      /\/m\/model\.safetensors: the file system is read-only/,
    );
  });

  it('send anything else as INTERNAL with its message', () => {
    const quiet = console.error;
    console.error = () => undefined; // toWire logs the stack of a bug to stderr
    try {
      assert.deepEqual(toWire(new TypeError('x is undefined')), { code: 'INTERNAL', message: 'x is undefined' });
      assert.equal(toWire(errno('ENOENT')).code, 'INTERNAL');
      assert.deepEqual(toWire('plain'), { code: 'INTERNAL', message: 'plain' });
    } finally {
      console.error = quiet;
    }
  });
});
