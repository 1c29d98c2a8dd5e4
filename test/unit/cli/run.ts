import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../../src/cli/main';
import { codeFiles } from '../helpers/tf';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The parsed JSON lines of stdout (with --json). */
  events: Record<string, unknown>[];
  /** stdout as written, call by call (streaming shows as many chunks). */
  chunks: string[];
}

/** Runs the CLI in this process, capturing what it writes and its exit code. */
export async function runCli(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const saved = process.exitCode;
  process.exitCode = undefined;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    await main(['node', 'gpt-lab', ...args]);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    code = Number(process.exitCode ?? 0);
    process.exitCode = saved;
  }
  const events = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout, stderr, events, chunks };
}

export async function tmpDir(prefix = 'gpt-lab-cli-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A folder of small source files to train on. */
export async function corpusDir(): Promise<string> {
  const dir = await tmpDir('gpt-lab-corpus-');
  for (const f of codeFiles(4)) {
    await fs.mkdir(path.join(dir, path.dirname(f.path)), { recursive: true });
    await fs.writeFile(path.join(dir, f.path), f.bytes);
  }
  return dir;
}

/** The smallest model the CLI trains: seconds per run. */
export const TINY_ARGS = ['--steps', '2', '--layers', '1', '--embd', '32', '--heads', '2', '--context', '32'];
export const TINY_ALL = [...TINY_ARGS, '--vocab', '300', '--batch', '2', '--backend', 'wasm'];
