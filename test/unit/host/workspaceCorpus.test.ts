import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readCorpus } from '../../../src/core/corpus';
import { readWorkspaceCorpus, WorkspaceCorpusSettings } from '../../../src/host/workspaceCorpus';
import { tmpDir } from '../helpers/train';

const MAX_FILE = 4096;

/** A workspace with what a corpus reader has to decide about: .gitignore (nested, re-including), build
 *  folders, a binary, a file over the size limit, and files that only files.exclude leaves out. */
async function workspace(): Promise<string> {
  const dir = await tmpDir('workspace-corpus');
  const files: Record<string, string | Uint8Array> = {
    '.gitignore': 'secret/\n*.log\n',
    'src/a.ts': 'export const a = 1;\n',
    'src/b.py': 'def b():\n    return 2\n',
    'src/.gitignore': '!keep.log\n',
    'src/keep.log': 'kept by the nested .gitignore\n',
    'debug.log': 'ignored\n',
    'secret/key.ts': 'export const key = 3;\n',
    'node_modules/m/index.js': 'module.exports = 4;\n',
    'gen/out.ts': 'export const generatedByHand = 5;\n',
    'notes.tmp': 'scratch\n',
    'image.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 1, 2, 3]),
    'big.ts': `export const big = '${'x'.repeat(MAX_FILE)}';\n`,
    '.git/config': '[core]\n',
  };
  for (const [rel, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), content);
  }
  return dir;
}

const settings = (s: Partial<WorkspaceCorpusSettings> = {}): WorkspaceCorpusSettings => ({
  include: [],
  exclude: [],
  maxFileBytes: MAX_FILE,
  filesExclude: {},
  ...s,
});

const paths = (files: { path: string }[]) => files.map((f) => f.path);

describe('the extension reads the workspace with the engine’s corpus reader', () => {
  it('selects the same files as gpt-lab train on the same folder, and skips them for the same reasons', async () => {
    const dir = await workspace();
    const host = await readWorkspaceCorpus([{ name: 'w', fsPath: dir, settings: settings() }]);
    const cli = await readCorpus(dir, { maxFileBytes: MAX_FILE }); // what `gpt-lab train --max-file-kb 4` reads
    assert.deepEqual(paths(host.files), paths(cli.files));
    assert.deepEqual(paths(host.files), [
      '.gitignore',
      'gen/out.ts',
      'notes.tmp',
      'src/.gitignore',
      'src/a.ts',
      'src/b.py',
      'src/keep.log',
    ]);
    assert.deepEqual(
      host.files.map((f) => Buffer.from(f.bytes).toString()),
      cli.files.map((f) => Buffer.from(f.bytes).toString()),
    );
    assert.deepEqual(host.summary, cli.summary);
    assert.equal(host.summary.skipped.binary, 1);
    assert.equal(host.summary.skipped['too-large'], 1);
    assert.ok(host.languageIds.includes('typescript') && host.languageIds.includes('python'), String(host.languageIds));
  });

  it('leaves out what files.exclude turns on (folders with their contents), and nothing else', async () => {
    const dir = await workspace();
    const filesExclude = { '**/gen': true, '*.tmp': true, '**/*.py': false };
    const host = await readWorkspaceCorpus([{ name: 'w', fsPath: dir, settings: settings({ filesExclude }) }]);
    const cli = await readCorpus(dir, { maxFileBytes: MAX_FILE });
    assert.deepEqual(
      paths(host.files),
      paths(cli.files).filter((p) => p !== 'gen/out.ts' && p !== 'notes.tmp'),
    );
  });

  it('adds gptLab.exclude to the built-in skips and keeps only gptLab.include matches', async () => {
    const dir = await workspace();
    const host = await readWorkspaceCorpus([
      { name: 'w', fsPath: dir, settings: settings({ include: ['src/'], exclude: ['*.py'] }) },
    ]);
    assert.deepEqual(paths(host.files), ['src/.gitignore', 'src/a.ts', 'src/keep.log']);
    const cli = await readCorpus(dir, { exclude: ['*.py'] }); // `--exclude` replaces the built-in skips
    assert.ok(paths(cli.files).includes('node_modules/m/index.js'));
    assert.ok(!paths(host.files).some((p) => p.startsWith('node_modules/')));
  });

  it('names files by folder in a multi-root workspace, and says why when nothing is left', async () => {
    const [one, two] = [await workspace(), await workspace()];
    const host = await readWorkspaceCorpus([
      { name: 'one', fsPath: one, settings: settings({ include: ['*.ts'] }) },
      { name: 'two', fsPath: two, settings: settings({ include: ['*.py'] }) },
    ]);
    assert.deepEqual(paths(host.files), ['one/gen/out.ts', 'one/src/a.ts', 'two/src/b.py']);
    assert.equal(host.root, one);
    await assert.rejects(
      readWorkspaceCorpus([{ name: 'w', fsPath: one, settings: settings({ include: ['*.rs'] }) }]),
      (e: Error & { code?: string }) => e.code === 'EMPTY_CORPUS' && /ignored/.test(e.message),
    );
    await assert.rejects(readWorkspaceCorpus([]), /Open a folder first/);
  });
});
