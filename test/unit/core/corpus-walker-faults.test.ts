import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCorpus } from '../../../src/core/corpus';

/** The workspace walker against hostile folders: loops, holes in permissions, huge and many files, odd names. */
describe('corpus walker: hostile folders', function () {
  this.timeout(120_000);
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-walker-'));
    await fs.writeFile(path.join(root, 'main.ts'), 'export const main = () => 42;\n');
  });
  afterEach(async () => {
    await fs.chmod(path.join(root, 'locked'), 0o755).catch(() => undefined);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('symlink loops, links out of the folder and to devices are not followed; the walk ends', async () => {
    await fs.mkdir(path.join(root, 'a', 'b'), { recursive: true });
    await fs.writeFile(path.join(root, 'a', 'b', 'deep.ts'), 'export const deep = 1;\n');
    await fs.symlink(root, path.join(root, 'a', 'b', 'loop'));
    await fs.symlink('..', path.join(root, 'a', 'up'));
    await fs.symlink('/etc/passwd', path.join(root, 'passwd.ts'));
    await fs.symlink('/dev/zero', path.join(root, 'zero.ts'));
    await fs.symlink(path.join(root, 'missing'), path.join(root, 'dangling.ts'));
    execFileSync('mkfifo', [path.join(root, 'pipe.ts')]); // reading a FIFO would block forever
    const c = await readCorpus(root);
    assert.deepEqual(
      c.files.map((f) => f.path),
      ['a/b/deep.ts', 'main.ts'],
    );
  });

  it('an unreadable folder (chmod 000) is skipped and counted; as root, whom permissions do not stop, it is read', async () => {
    const locked = path.join(root, 'locked');
    await fs.mkdir(locked);
    await fs.writeFile(path.join(locked, 'secret.ts'), 'export const secret = 1;\n');
    await fs.chmod(locked, 0o000);
    const c = await readCorpus(root);
    const isRoot = process.getuid?.() === 0;
    if (isRoot) {
      assert.deepEqual(c.files.map((f) => f.path).sort(), ['locked/secret.ts', 'main.ts']);
    } else {
      assert.deepEqual(
        c.files.map((f) => f.path),
        ['main.ts'],
      );
      assert.equal(c.summary.skipped.unreadable, 1);
    }
  });

  it('a 2 GB sparse file is skipped as too large without being read', async () => {
    const big = path.join(root, 'big.ts');
    const h = await fs.open(big, 'w');
    await h.truncate(2 * 1024 ** 3);
    await h.close();
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const c = await readCorpus(root);
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(c.summary.skipped['too-large'], 1);
    assert.deepEqual(
      c.files.map((f) => f.path),
      ['main.ts'],
    );
    assert.ok(process.memoryUsage().rss - rss < 200 * 1024 ** 2, 'the walker read the sparse file');
  });

  it('10,000 tiny files in nested folders are all read, in order, in seconds', async () => {
    for (let d = 0; d < 100; d++) {
      const dir = path.join(root, 'many', String(d).padStart(3, '0'));
      await fs.mkdir(dir, { recursive: true });
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fs.writeFile(path.join(dir, `f${String(i).padStart(3, '0')}.ts`), `export const v${d}_${i} = ${i};\n`),
        ),
      );
    }
    const t0 = performance.now();
    const c = await readCorpus(root);
    const ms = performance.now() - t0;
    assert.equal(c.files.length, 10_001);
    assert.equal(c.files[0].path, 'main.ts');
    assert.equal(c.files[1].path, 'many/000/f000.ts');
    assert.ok(ms < 60_000, `${ms} ms`);
  });

  it('a file whose name is not valid UTF-8 is read, its name shown with the odd bytes escaped', async () => {
    // Linux file names are bytes; a name from another encoding (Latin-1 "é" = 0xE9) is no UTF-8.
    const rawName = Buffer.concat([Buffer.from(path.join(root, 'caf')), Buffer.from([0xe9]), Buffer.from('.ts')]);
    await fs.writeFile(rawName, 'export const cafe = 1;\n');
    const rawDir = Buffer.concat([Buffer.from(path.join(root, 'd')), Buffer.from([0xff])]);
    await fs.mkdir(rawDir);
    await fs.writeFile(Buffer.concat([rawDir, Buffer.from('/inner.ts')]), 'export const inner = 2;\n');
    const c = await readCorpus(root);
    assert.deepEqual(
      c.files.map((f) => f.path),
      ['caf\\xe9.ts', 'd\\xff/inner.ts', 'main.ts'],
    );
    assert.equal(Buffer.from(c.files[0].bytes).toString(), 'export const cafe = 1;\n');
    assert.equal(c.files[0].language, 'TypeScript');
    assert.equal(c.summary.skipped.unreadable, 0);
  });
});
