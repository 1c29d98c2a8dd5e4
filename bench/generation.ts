/**
 * Generation alone, the engine against the PyTorch peer in one run (what `npm run bench -- --peer` measures for
 * generation, without its training runs): config B, a 64-token prompt, 32 new tokens greedy, at batch 1 and for
 * 8 rows at once, KV-cached. The peer's four thread settings are probed first and the fastest kept; then engine and
 * peer alternate round by round, and the medians are compared. The engine also runs its JS decoder
 * (GPTLAB_KERNELS=reference) and the modern architecture at B's size, for context.
 * `npm run build && node out/bench/generation.js [--rounds 5]`; prints JSON, writes .artifacts/bench/generation.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildSpec } from '../src/cli/benchChild';
import { median } from '../src/cli/benchChild';
import { GPTConfig, MODERN_RECIPE } from '../src/core/model/config';

type Json = Record<string, unknown>;
const B: GPTConfig = {
  vocabSize: 2048,
  contextLength: 128,
  nEmbd: 128,
  nLayer: 4,
  nHead: 4,
  positionEncoding: 'learned',
};
const ROWS = 8;
const root = path.resolve(__dirname, '../..');
const log = (m: string) => process.stderr.write(m + '\n');

function engine(model: GPTConfig, data: string, env: Record<string, string> = {}): Json {
  const spec: ChildSpec = { kind: 'gen', model, data, batchRows: ROWS };
  try {
    const out = execFileSync(process.execPath, [path.join(root, 'out/src/cli/benchChild.js'), JSON.stringify(spec)], {
      env: { ...process.env, GPT_LAB_BENCH_BACKEND: 'wasm', ...env },
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim().split('\n').pop() as string) as Json;
    return {
      msPerToken: r.kvCache_msPerToken,
      batchTokPerSec: (r.batch as Json).tokPerSec,
      kvMatchesFull: r.kvMatchesFull,
    };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  }
}

interface Setting {
  openblas: '1' | 'default';
  threads: 1 | 2;
}
function peer(s: Setting, data: string): Json {
  const env = { ...process.env };
  if (s.openblas === '1') env.OPENBLAS_NUM_THREADS = '1';
  else delete env.OPENBLAS_NUM_THREADS;
  const script = path.join(root, 'bench/peer/gpt_torch.py');
  const args = [script, '--threads', String(s.threads), '--config', 'B', '--data', data, '--notrain'];
  try {
    const out = execFileSync('/usr/bin/python3', [...args, '--genbatch', String(ROWS)], { env, encoding: 'utf8' });
    const gen = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json)
      .find((l) => l.gen)?.gen as Json;
    return { msPerToken: (gen.kvCache_32tok_ms as number) / 32, batchTokPerSec: (gen.batch as Json).tokPerSec };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  }
}

const med = (runs: Json[], key: string) => median(runs.map((r) => r[key] as number).filter(Number.isFinite));

function main(): void {
  const at = process.argv.indexOf('--rounds');
  const rounds = at > 0 ? Number(process.argv[at + 1]) : 5;
  const data = path.join(os.tmpdir(), `gpt-lab-gen-bench-${process.pid}.js`);
  writeFileSync(data, readFileSync(require.resolve('typescript/lib/typescript.js')).subarray(0, 1 << 20));
  const settings: Setting[] = [
    { openblas: '1', threads: 1 },
    { openblas: '1', threads: 2 },
    { openblas: 'default', threads: 1 },
    { openblas: 'default', threads: 2 },
  ];
  log('the peer’s fastest thread setting…');
  const probe: (Json & { setting: Setting })[] = settings.map((s) => ({ setting: s, ...peer(s, data) }));
  const best = probe.reduce((a, b) => ((b.msPerToken as number) < (a.msPerToken as number) ? b : a)).setting;
  const runs: Record<string, Json[]> = { engine: [], peer: [], engineJs: [], engineModern: [] };
  for (let r = 1; r <= rounds; r++) {
    log(`round ${r}/${rounds}…`);
    runs.engine.push(engine(B, data));
    runs.peer.push(peer(best, data));
    runs.engineJs.push(engine(B, data, { GPTLAB_KERNELS: 'reference' }));
    runs.engineModern.push(engine({ ...B, ...MODERN_RECIPE }, data));
  }
  rmSync(data, { force: true });
  const e = med(runs.engine, 'msPerToken');
  const p = med(runs.peer, 'msPerToken');
  const eb = med(runs.engine, 'batchTokPerSec');
  const pb = med(runs.peer, 'batchTokPerSec');
  const result = {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model,
    loadAverage: os.loadavg().map((l) => +l.toFixed(1)),
    rounds,
    config: 'B, 64-token prompt, 32 new tokens, greedy, KV cache',
    summary: {
      engineMsPerToken: +e.toFixed(3),
      peerMsPerToken: +p.toFixed(3),
      speedRatio: +(p / e).toFixed(2),
      batchRows: ROWS,
      engineBatchTokPerSec: eb,
      peerBatchTokPerSec: pb,
      batchRatio: +(eb / pb).toFixed(2),
      engineJsMsPerToken: med(runs.engineJs, 'msPerToken'),
      engineJsBatchTokPerSec: med(runs.engineJs, 'batchTokPerSec'),
      engineModernMsPerToken: med(runs.engineModern, 'msPerToken'),
      engineModernBatchTokPerSec: med(runs.engineModern, 'batchTokPerSec'),
      engineKvMatchesFull: runs.engine.every((r) => r.kvMatchesFull === true),
      peerSetting: best,
    },
    peerProbe: probe,
    runs,
  };
  const json = JSON.stringify(result, null, 2);
  const dir = path.join(root, '.artifacts/bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'generation.json'), json + '\n');
  process.stdout.write(json + '\n');
}

main();
