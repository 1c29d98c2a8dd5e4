import { strict as assert } from 'node:assert';
import { ModelCache } from '../../../src/worker/modelCache';

/** A fake model folder: its stamp changes when "training saves"; each load makes a model that records disposal. */
function folder() {
  const f = {
    stamp: 's1',
    loads: 0,
    disposed: [] as string[],
    stampOf: async () => {
      if (f.stamp === '') throw new Error('no checkpoint');
      return f.stamp;
    },
    load: async () => {
      const name = `${f.stamp}#${++f.loads}`;
      await new Promise((r) => setTimeout(r, 5));
      return { name, dispose: () => f.disposed.push(name) };
    },
  };
  return f;
}

/** A promise and the function that settles it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('inference model cache (worker)', () => {
  it('keeps a model that a request still uses when a newer checkpoint arrives, and disposes it after', async () => {
    const f = folder();
    const cache = new ModelCache(f.stampOf, f.load);
    const g = gate();
    let usedByFirst = '';
    const first = cache.use('/m', async (m) => {
      usedByFirst = m.name;
      await g.wait; // a generation between two tokens
      assert.deepEqual(f.disposed, [], 'the model was disposed while in use');
      return m.name;
    });
    while (!usedByFirst) await new Promise((r) => setImmediate(r));
    f.stamp = 's2';
    const second = await cache.use('/m', (m) => m.name);
    assert.equal(second, 's2#2');
    assert.deepEqual(f.disposed, []);
    g.open();
    assert.equal(await first, 's1#1');
    assert.deepEqual(f.disposed, ['s1#1']);
    cache.dispose();
    assert.deepEqual(f.disposed, ['s1#1', 's2#2']);
  });

  it('loads a checkpoint once for requests that arrive together', async () => {
    const f = folder();
    const cache = new ModelCache(f.stampOf, f.load);
    const names = await Promise.all([1, 2, 3].map(() => cache.use('/m', (m) => m.name)));
    assert.deepEqual(names, ['s1#1', 's1#1', 's1#1']);
    assert.equal(f.loads, 1);
  });

  it('lets the model go when its folder no longer holds a checkpoint (Delete Model)', async () => {
    const f = folder();
    const cache = new ModelCache(f.stampOf, f.load);
    await cache.use('/m', () => undefined);
    f.stamp = '';
    await assert.rejects(
      cache.use('/m', () => undefined),
      /no checkpoint/,
    );
    assert.deepEqual(f.disposed, ['s1#1']);
  });

  it('a failing request releases its model like any other', async () => {
    const f = folder();
    const cache = new ModelCache(f.stampOf, f.load);
    await assert.rejects(
      cache.use('/m', () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    f.stamp = 's2';
    await cache.use('/m', () => undefined);
    assert.deepEqual(f.disposed, ['s1#1']);
  });
});
