import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  appendHistory,
  appendLineSafe,
  checkpointExists,
  CheckpointData,
  decodeSafetensors,
  deleteCheckpoint,
  encodeSafetensors,
  loadCheckpoint,
  loadCheckpointConfig,
  NamedTensors,
  readHistory,
  readJsonLines,
  saveCheckpoint,
  TensorData,
  writeFileAtomic,
} from '../../../src/core/checkpoint';
import { GptLabError } from '../../../src/core/errors';

function f32(shape: number[], values: number[]): TensorData {
  return { dtype: 'F32', shape, data: new Float32Array(values) };
}
function i32(shape: number[], values: number[]): TensorData {
  return { dtype: 'I32', shape, data: new Int32Array(values) };
}

/** Asserts that `fn` rejects with a GptLabError of `code` whose message contains every one of `words`. */
async function rejectsWith(fn: () => unknown, code: string, ...words: string[]): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (e: unknown) => {
      assert.ok(e instanceof GptLabError, `expected a GptLabError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      for (const w of words) assert.ok(e.message.includes(w), `"${e.message}" should mention ${w}`);
      return true;
    },
  );
}

function assertSameTensors(actual: NamedTensors, expected: NamedTensors): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [name, t] of expected) {
    const a = actual.get(name)!;
    assert.equal(a.dtype, t.dtype, name);
    assert.deepEqual(a.shape, t.shape, name);
    assert.equal(a.data.constructor, t.data.constructor, name);
    assert.deepEqual(Array.from(a.data), Array.from(t.data), name);
  }
}

describe('safetensors', () => {
  it('round-trips F32 and I32 tensors of odd shapes, scalars and empty tensors', () => {
    const tensors: NamedTensors = new Map([
      [
        'wte.weight',
        f32(
          [3, 5],
          Array.from({ length: 15 }, (_, i) => i * 0.5 - 3.25),
        ),
      ],
      ['odd', f32([1, 3, 1], [Math.PI, -0, Number.MIN_VALUE])],
      ['scalar', f32([], [42.5])],
      ['empty', f32([0, 4], [])],
      ['counts', i32([7], [0, 1, -1, 2147483647, -2147483648, 5, 6])],
      ['7', i32([], [-9])],
    ]);
    const metadatas: (Record<string, string> | undefined)[] = [undefined, {}, { format: 'pt', note: 'ünïcode ✓' }];
    for (const metadata of metadatas) {
      const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata), 'x.safetensors');
      assertSameTensors(decoded.tensors, tensors);
      assert.deepEqual(decoded.metadata, metadata ?? {});
      assert.ok(Object.is(decoded.tensors.get('odd')!.data[1], -0));
    }
  });

  it('reads tensors from a buffer at an odd byte offset into aligned copies', () => {
    const bytes = encodeSafetensors(
      new Map([
        ['a', f32([3], [1, 2, 3])],
        ['b', i32([2], [4, 5])],
      ]),
    );
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    // A Buffer too: Buffer#slice returns a view, so a decoder relying on slice() would alias the file.
    for (const view of [shifted.subarray(3), Buffer.concat([Buffer.alloc(3), bytes]).subarray(3)]) {
      const { tensors } = decodeSafetensors(view, 'x.safetensors');
      assert.deepEqual(Array.from(tensors.get('a')!.data), [1, 2, 3]);
      assert.deepEqual(Array.from(tensors.get('b')!.data), [4, 5]);
      for (const { data } of tensors.values()) {
        assert.equal(data.byteOffset, 0);
        assert.equal(data.buffer.byteLength, data.byteLength);
      }
    }
  });

  it('writes the exact bytes the format specifies for one F32 tensor', () => {
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes, padded to 56
    const expected = Uint8Array.from([
      ...[56, 0, 0, 0, 0, 0, 0, 0],
      ...Buffer.from(header + '  '),
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0f little-endian
      ...[0x00, 0x00, 0x00, 0x40], // 2.0f
    ]);
    assert.deepEqual(encodeSafetensors(new Map([['a', f32([2], [1, 2])]])), expected);
  });

  it('matches the reference implementation byte for byte (order: dtype, then name; metadata first)', () => {
    // Python: safetensors.numpy.save({"z": int32 [[1,2,3]], "b": float32 3.5, "0": float32 zeros((0,2)),
    //   "a": float32 arange(6).reshape(2,3)}, metadata={"format": "pt"})  with safetensors 0.8.0
    const reference = Buffer.from(
      '00010000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c2230223a7b2264747970' +
        '65223a22463332222c227368617065223a5b302c325d2c22646174615f6f666673657473223a5b302c305d7d2c2261223a7b' +
        '226474797065223a22463332222c227368617065223a5b322c335d2c22646174615f6f666673657473223a5b302c32345d7d' +
        '2c2262223a7b226474797065223a22463332222c227368617065223a5b5d2c22646174615f6f666673657473223a5b32342c' +
        '32385d7d2c227a223a7b226474797065223a22493332222c227368617065223a5b312c335d2c22646174615f6f6666736574' +
        '73223a5b32382c34305d7d7d2020000000000000803f0000004000004040000080400000a040000060400100000002000000' +
        '03000000',
      'hex',
    );
    const tensors: NamedTensors = new Map([
      ['z', i32([1, 3], [1, 2, 3])],
      ['b', f32([], [3.5])],
      ['0', f32([0, 2], [])],
      ['a', f32([2, 3], [0, 1, 2, 3, 4, 5])],
    ]);
    assert.deepEqual(Buffer.from(encodeSafetensors(tensors, { format: 'pt' })), reference);
    const decoded = decodeSafetensors(reference, 'ref.safetensors');
    assertSameTensors(decoded.tensors, tensors);
    assert.deepEqual([...decoded.tensors.keys()], ['0', 'a', 'b', 'z']);
  });

  it('rejects shapes that do not match the data when encoding', () => {
    assert.throws(() => encodeSafetensors(new Map([['a', f32([3], [1, 2])]])), /shape \[3\]/);
    assert.throws(
      () => encodeSafetensors(new Map([['a', { dtype: 'I32', shape: [1], data: new Float32Array(1) }]])),
      /dtype I32/,
    );
  });

  describe('decoding a damaged file throws BAD_CHECKPOINT naming the file', () => {
    const good = encodeSafetensors(
      new Map([
        ['a', f32([2], [1, 2])],
        ['b', i32([1], [3])],
      ]),
    );
    /** A file with `header` as its JSON header and `dataBytes` zero bytes of data. */
    const withHeader = (header: string, dataBytes: number): Uint8Array => {
      const json = Buffer.from(header);
      const out = new Uint8Array(8 + json.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    const cases: [string, Uint8Array, string][] = [
      ['empty file', new Uint8Array(0), 'too short'],
      ['garbage', Uint8Array.from(Buffer.from('this is not a safetensors file at all')), 'header length'],
      ['truncated header', good.subarray(0, 30), 'runs past the end'],
      ['truncated data', good.subarray(0, good.length - 1), 'truncated'],
      ['trailing bytes', Uint8Array.from([...good, 0, 0, 0, 0]), 'the file holds'],
      ['header not JSON', withHeader('{"a": {', 0), 'not valid JSON'],
      ['header not an object', withHeader('[1, 2]', 0), 'not valid JSON'],
      ['unknown dtype', withHeader('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', 4), 'dtype "F16"'],
      ['negative dim', withHeader('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), 'invalid shape'],
      ['bad offsets', withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', 4), 'data_offsets'],
      ['size mismatch', withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4), 'needs 8'],
      [
        'gap between tensors',
        withHeader(
          '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
          12,
        ),
        'gap or overlap',
      ],
      [
        'overlapping tensors',
        withHeader(
          '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          8,
        ),
        'gap or overlap',
      ],
      ['metadata not strings', withHeader('{"__metadata__":{"n":1}}', 0), '__metadata__'],
    ];
    for (const [what, bytes, problem] of cases) {
      it(what, async () => {
        await rejectsWith(
          () => decodeSafetensors(bytes, 'weights.safetensors'),
          'BAD_CHECKPOINT',
          'weights.safetensors',
          problem,
        );
      });
    }
  });
});

describe('atomic files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-atomic-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writeFileAtomic replaces the content and leaves no temp files', async () => {
    const file = path.join(dir, 'a.bin');
    await writeFileAtomic(file, 'first version, longer than the second');
    await writeFileAtomic(file, Uint8Array.from([1, 2, 3]));
    assert.deepEqual(await fs.readFile(file), Buffer.from([1, 2, 3]));
    assert.deepEqual(await fs.readdir(dir), ['a.bin']);
  });

  it('writeFileAtomic cleans its temp file when the rename fails', async () => {
    const target = path.join(dir, 'target');
    await fs.mkdir(path.join(target, 'child'), { recursive: true }); // renaming a file over a non-empty folder fails
    await assert.rejects(writeFileAtomic(target, 'x'));
    assert.deepEqual(await fs.readdir(dir), ['target']);
  });

  it('readJsonLines skips a torn last line quietly and reports a bad line in the middle', async () => {
    const file = path.join(dir, 'log.jsonl');
    await fs.writeFile(file, '{"step":1}\nnot json\n\n{"step":2}\n{"step":3,"lo');
    const { records, warnings } = await readJsonLines(file);
    assert.deepEqual(records, [{ step: 1 }, { step: 2 }]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /log\.jsonl line 2/);
  });

  it('appendLineSafe starts a fresh line after a torn one, so the new record survives', async () => {
    const file = path.join(dir, 'log.jsonl');
    await appendLineSafe(file, JSON.stringify({ step: 1 }));
    await fs.appendFile(file, '{"step":2,"lo'); // a crash mid-append
    assert.deepEqual((await readJsonLines(file)).records, [{ step: 1 }]);
    await appendLineSafe(file, JSON.stringify({ step: 3 }));
    const { records, warnings } = await readJsonLines(file);
    assert.deepEqual(records, [{ step: 1 }, { step: 3 }]);
    assert.equal(warnings.length, 1); // the torn line is now in the middle: reported, not thrown
  });

  it('readJsonLines of a missing file is empty, and appendLineSafe refuses a newline', async () => {
    assert.deepEqual(await readJsonLines(path.join(dir, 'none.jsonl')), { records: [], warnings: [] });
    await assert.rejects(appendLineSafe(path.join(dir, 'x.jsonl'), '{}\n{}'));
  });
});

describe('checkpoint folder', () => {
  let root: string;
  let dir: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-ckpt-'));
    dir = path.join(root, 'model');
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const sample = (step = 10): CheckpointData => ({
    config: { model: { nLayer: 2, nEmbd: 8 }, train: { lr: 3e-4 } },
    tokenizer: { vocab: ['a', 'b'], merges: [['a', 'b']] },
    weights: new Map([
      [
        'transformer.wte.weight',
        f32(
          [2, 3],
          [1, 2, 3, 4, 5, 6].map((x) => x * step),
        ),
      ],
      ['transformer.h.0.ln_1.bias', f32([3], [0.1, 0.2, 0.3])],
    ]),
    optimizer: new Map([
      ['exp_avg.transformer.wte.weight', f32([2, 3], [0, 0, 0, 1, 1, 1])],
      ['step', i32([], [step])],
    ]),
    step,
    trainer: { rng: [1, 2, 3, 4], cursor: 1234 },
  });

  async function saved(step = 10): Promise<CheckpointData> {
    const ckpt = sample(step);
    await saveCheckpoint(dir, ckpt);
    return ckpt;
  }

  it('saveCheckpoint then loadCheckpoint gives back identical data', async () => {
    const ckpt = await saved();
    await appendHistory(dir, { step: 1, loss: 4.2 });
    await appendHistory(dir, { step: 2, loss: 3.9 });
    const loaded = await loadCheckpoint(dir);
    assert.deepEqual(loaded.config, ckpt.config);
    assert.deepEqual(loaded.tokenizer, ckpt.tokenizer);
    assertSameTensors(loaded.weights, ckpt.weights);
    assertSameTensors(loaded.optimizer!, ckpt.optimizer!);
    assert.equal(loaded.step, 10);
    assert.deepEqual(loaded.trainer, ckpt.trainer);
    assert.ok(!Number.isNaN(Date.parse(loaded.savedAt)));
    assert.deepEqual(loaded.history, [
      { step: 1, loss: 4.2 },
      { step: 2, loss: 3.9 },
    ]);
    assert.deepEqual(loaded.historyWarnings, []);
    assert.ok(checkpointExists(dir));
    assert.deepEqual((await fs.readdir(dir)).sort(), [
      'config.json',
      'history.jsonl',
      'model.safetensors',
      'optimizer.safetensors',
      'state.json',
      'tokenizer.json',
    ]);
  });

  it('writes a commit record with the size and sha256 of every file', async () => {
    await saved();
    const state = JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8'));
    assert.equal(state.format, 'gpt-lab-checkpoint');
    assert.equal(state.version, 1);
    assert.deepEqual(Object.keys(state.files).sort(), [
      'config.json',
      'model.safetensors',
      'optimizer.safetensors',
      'tokenizer.json',
    ]);
    const model = await fs.readFile(path.join(dir, 'model.safetensors'));
    assert.equal(state.files['model.safetensors'].bytes, model.length);
    assert.match(state.files['model.safetensors'].sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(decodeSafetensors(model, 'model.safetensors').metadata, { format: 'pt' });
  });

  it('a later save replaces the earlier one; without optimizer state the old file goes', async () => {
    await saved(10);
    const next = { ...sample(20), optimizer: undefined };
    await saveCheckpoint(dir, next);
    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.step, 20);
    assertSameTensors(loaded.weights, next.weights);
    assert.equal(loaded.optimizer, undefined);
    assert.ok(!(await fs.readdir(dir)).includes('optimizer.safetensors'));
  });

  it('loadCheckpointConfig reads the config and the commit record', async () => {
    const ckpt = await saved();
    const info = await loadCheckpointConfig(dir);
    assert.deepEqual(info.config, ckpt.config);
    assert.equal(info.step, 10);
    assert.deepEqual(info.trainer, ckpt.trainer);
    assert.ok(info.files['model.safetensors']!.bytes > 0);
  });

  it('one flipped byte in model.safetensors is BAD_CHECKPOINT naming the file', async () => {
    await saved();
    const file = path.join(dir, 'model.safetensors');
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 2] ^= 0x01;
    await fs.writeFile(file, bytes);
    await rejectsWith(() => loadCheckpoint(dir), 'BAD_CHECKPOINT', 'model.safetensors', 'checksum', dir);
  });

  it('a truncated file is BAD_CHECKPOINT naming it and its size', async () => {
    await saved();
    const file = path.join(dir, 'model.safetensors');
    await fs.truncate(file, 20);
    await rejectsWith(() => loadCheckpoint(dir), 'BAD_CHECKPOINT', 'model.safetensors', '20 bytes');
  });

  it('a damaged optimizer state leaves the weights loadable and says why it cannot resume', async () => {
    await saved();
    await fs.truncate(path.join(dir, 'optimizer.safetensors'), 20);
    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.optimizer, undefined);
    assert.match(loaded.optimizerProblem ?? '', /optimizer\.safetensors is corrupt \(20 bytes/);
    assert.ok(loaded.weights.size > 0);
  });

  for (const name of ['tokenizer.json', 'config.json', 'model.safetensors']) {
    it(`a missing ${name} is BAD_CHECKPOINT naming it`, async () => {
      await saved();
      await fs.rm(path.join(dir, name));
      await rejectsWith(() => loadCheckpoint(dir), 'BAD_CHECKPOINT', name, 'missing');
    });
  }

  it('a missing folder is NO_CHECKPOINT telling the user to train first', async () => {
    assert.equal(checkpointExists(dir), false);
    await rejectsWith(() => loadCheckpoint(dir), 'NO_CHECKPOINT', dir, 'train');
    await rejectsWith(() => loadCheckpointConfig(dir), 'NO_CHECKPOINT');
  });

  it('a folder with only history (no save yet) is NO_CHECKPOINT', async () => {
    await appendHistory(dir, { step: 1, loss: 5 });
    assert.equal(checkpointExists(dir), false);
    await rejectsWith(() => loadCheckpoint(dir), 'NO_CHECKPOINT', 'state.json');
  });

  it('a truncated state.json is BAD_CHECKPOINT naming state.json', async () => {
    await saved();
    const file = path.join(dir, 'state.json');
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.slice(0, text.length / 2));
    await rejectsWith(() => loadCheckpoint(dir), 'BAD_CHECKPOINT', 'state.json', 'not valid JSON');
  });

  it('a state.json of another format or version is BAD_CHECKPOINT', async () => {
    await saved();
    const file = path.join(dir, 'state.json');
    const state = JSON.parse(await fs.readFile(file, 'utf8'));
    await fs.writeFile(file, JSON.stringify({ ...state, version: 2 }));
    await rejectsWith(() => loadCheckpoint(dir), 'BAD_CHECKPOINT', 'state.json', 'version 2');
    await fs.writeFile(
      file,
      JSON.stringify({ ...state, files: { ...state.files, '../x': state.files['config.json'] } }),
    );
    await rejectsWith(() => loadCheckpoint(dir), 'BAD_CHECKPOINT', 'state.json', 'unknown file');
  });

  describe('a crash during a save leaves a loadable checkpoint', () => {
    /** Files a save of `ckpt` would have written as `<name>.next` and `state.next.json`, via a scratch save. */
    async function stageNext(ckpt: CheckpointData, withCommitRecord: boolean): Promise<void> {
      const scratch = path.join(root, 'scratch');
      await saveCheckpoint(scratch, ckpt);
      for (const name of await fs.readdir(scratch)) {
        if (name === 'state.json') {
          if (withCommitRecord) await fs.copyFile(path.join(scratch, name), path.join(dir, 'state.next.json'));
        } else {
          await fs.copyFile(path.join(scratch, name), path.join(dir, `${name}.next`));
        }
      }
    }

    it('before the commit point: the previous checkpoint loads', async () => {
      await saved(10);
      await stageNext(sample(20), false);
      await fs.writeFile(path.join(dir, '.model.safetensors.next.0123456789abcdef.tmp'), 'half a file');
      assert.equal((await loadCheckpoint(dir)).step, 10);
      await saveCheckpoint(dir, sample(30)); // the next save clears the leftovers
      assert.equal((await loadCheckpoint(dir)).step, 30);
      assert.ok(!(await fs.readdir(dir)).some((n) => n.endsWith('.next') || n.endsWith('.tmp')));
    });

    it('after the commit point, halfway through the renames: the new checkpoint loads', async () => {
      await saved(10);
      const next = sample(20);
      await stageNext(next, true);
      await fs.rename(path.join(dir, 'model.safetensors.next'), path.join(dir, 'model.safetensors'));
      const loaded = await loadCheckpoint(dir);
      assert.equal(loaded.step, 20);
      assertSameTensors(loaded.weights, next.weights);
      assert.equal((await loadCheckpointConfig(dir)).step, 20);
      // The next save finishes the interrupted one first, and leaves a clean folder.
      await saveCheckpoint(dir, sample(30));
      assert.equal((await loadCheckpoint(dir)).step, 30);
      assert.deepEqual((await fs.readdir(dir)).sort(), [
        'config.json',
        'model.safetensors',
        'optimizer.safetensors',
        'state.json',
        'tokenizer.json',
      ]);
    });
  });

  it('a reader running alongside a writer always gets a whole checkpoint', async () => {
    await saved(1);
    let writing = true;
    const writer = (async () => {
      for (let step = 2; step <= 15; step++) await saveCheckpoint(dir, sample(step));
      writing = false;
    })();
    let loads = 0;
    while (writing) {
      const loaded = await loadCheckpoint(dir);
      assertSameTensors(loaded.weights, sample(loaded.step).weights);
      loads++;
    }
    await writer;
    assert.ok(loads > 0);
  });

  it('readHistory skips lines that are not objects, with a warning', async () => {
    await appendHistory(dir, { step: 1 });
    await fs.appendFile(path.join(dir, 'history.jsonl'), '[1,2]\n');
    await appendHistory(dir, { step: 2 });
    const { records, warnings } = await readHistory(dir);
    assert.deepEqual(records, [{ step: 1 }, { step: 2 }]);
    assert.equal(warnings.length, 1);
  });

  it('deleteCheckpoint removes the model folder but never files it does not own', async () => {
    await saved();
    await appendHistory(dir, { step: 1 });
    await deleteCheckpoint(dir);
    assert.equal(checkpointExists(dir), false);
    await assert.rejects(fs.stat(dir));
    await deleteCheckpoint(dir); // already gone: fine

    await saved();
    await fs.writeFile(path.join(dir, 'notes.txt'), 'mine');
    await deleteCheckpoint(dir);
    assert.deepEqual(await fs.readdir(dir), ['notes.txt']);
  });
});
