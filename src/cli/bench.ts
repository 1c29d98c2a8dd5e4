/**
 * Speed and memory of the engine on this machine, as JSON (not a timed test): training tokens/s for the
 * performance notes' configs A and B and the `small` preset, KV-cached generation ms/token at batch 1 and batched
 * tokens/s, peak resident memory of training and generation per preset, tokenizer speed. With --peer, the PyTorch
 * peer (bench/peer/gpt_torch.py) runs on the same configs and data in the same run, alternating with the engine
 * (medians of the rounds), at the thread setting that is fastest on this machine, beside this machine's fp32
 * matmul peak. The engine gets the same: its training runs on 1 and on 2 data-parallel replicas every round, and
 * the faster setting's median is the one compared (both are in the JSON). Every model runs in a process of its
 * own, so each peak memory figure is that run's.
 * `gpt-lab bench` runs it; `npm run bench` through bench/run.ts. (It lives in the CLI, which may not import bench/.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackendPreference } from '../core/backend';
import { GPTConfig, PRESETS } from '../core/model/config';
import { trainTokenizer } from '../core/tokenizer';
import { ChildSpec, flopsPerToken, median } from './benchChild';

const CONFIGS: Record<string, { model: GPTConfig; batch: number }> = {
  A: {
    model: { vocabSize: 512, contextLength: 64, nEmbd: 64, nLayer: 2, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
  B: {
    model: { vocabSize: 2048, contextLength: 128, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' },
    batch: 16,
  },
  small: { model: PRESETS.small.model, batch: PRESETS.small.batchSize },
};
const GEN_ROWS = 8;
/** The engine's thread settings for training, as the peer's are 1 or 2 threads: data-parallel replicas. */
const ENGINE_REPLICAS = [1, 2];

type Json = Record<string, unknown>;
const log = (m: string) => process.stderr.write(m + '\n');

/** Runs one engine measurement in a child process (src/cli/benchChild.ts). */
function engine(spec: ChildSpec, backend: string): Json {
  try {
    const out = execFileSync(process.execPath, [path.join(__dirname, 'benchChild.js'), JSON.stringify(spec)], {
      env: { ...process.env, GPT_LAB_BENCH_BACKEND: backend },
      encoding: 'utf8',
      timeout: 900_000,
      maxBuffer: 1 << 24,
    });
    return JSON.parse(out.trim().split('\n').pop() as string);
  } catch (err) {
    return { error: (err as Error).message.split('\n').slice(0, 3).join(' ') };
  }
}

/** The peer's thread settings: OpenBLAS's own threads (1, or its default) × torch's intra-op threads. */
interface PeerSetting {
  openblasThreads: '1' | 'default';
  torchThreads: 1 | 2;
}
const PEER_SETTINGS: PeerSetting[] = [
  { openblasThreads: '1', torchThreads: 1 },
  { openblasThreads: '1', torchThreads: 2 },
  { openblasThreads: 'default', torchThreads: 1 },
  { openblasThreads: 'default', torchThreads: 2 },
];

/** Runs the peer script; its JSON lines merged into one object. */
function peer(script: string, s: PeerSetting, args: string[]): Json {
  const env = { ...process.env };
  if (s.openblasThreads === '1') env.OPENBLAS_NUM_THREADS = '1';
  else delete env.OPENBLAS_NUM_THREADS;
  try {
    const out = execFileSync('/usr/bin/python3', [script, '--threads', String(s.torchThreads), ...args], {
      env,
      encoding: 'utf8',
      timeout: 900_000,
    });
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    return Object.assign({ setting: s }, ...lines);
  } catch (err) {
    return { setting: s, error: (err as Error).message.split('\n').slice(0, 3).join(' ') };
  }
}

function peerSizeArgs(name: string): string[] {
  const { model: m, batch } = CONFIGS[name];
  const sizes = { vocab: m.vocabSize, ctx: m.contextLength, d: m.nEmbd, layers: m.nLayer, heads: m.nHead, batch };
  return Object.entries(sizes).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

const num = (o: unknown, ...keys: string[]): number => {
  let v: unknown = o;
  for (const k of keys) v = v && typeof v === 'object' ? (v as Json)[k] : undefined;
  return typeof v === 'number' ? v : NaN;
};
const med = (runs: Json[], ...keys: string[]) => {
  const xs = runs.map((r) => num(r, ...keys)).filter((x) => Number.isFinite(x));
  return xs.length ? median(xs) : NaN;
};
const round = (x: number, d = 2) => (Number.isFinite(x) ? +x.toFixed(d) : null);

/** `lscpu`'s model name and the SIMD flags that matter for fp32 matmul. */
function cpuInfo(): Json {
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(out)?.[1]?.trim();
    const flags = (field('Flags') ?? '').split(/\s+/);
    return {
      model: field('Model name'),
      simd: ['avx2', 'fma', 'avx512f', 'avx512_bf16'].filter((f) => flags.includes(f)),
    };
  } catch {
    return { model: os.cpus()[0]?.model };
  }
}

/** A few MB of real code: TypeScript's own compiler sources (a dev dependency). */
function codeCorpus(maxBytes: number): Uint8Array[] {
  const dir = path.dirname(require.resolve('typescript/package.json')) + '/lib';
  const docs: Uint8Array[] = [];
  let total = 0;
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.js'))
    .sort()) {
    if (total >= maxBytes) break;
    const b = readFileSync(path.join(dir, f)).subarray(0, maxBytes - total);
    docs.push(b);
    total += b.length;
  }
  return docs;
}

function benchTokenizer(mb: number) {
  const docs = codeCorpus(mb * 1e6);
  const bytes = docs.reduce((n, d) => n + d.length, 0);
  const t0 = performance.now();
  const tok = trainTokenizer(docs, { vocabSize: 2048 });
  const trainS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let tokens = 0;
  for (const d of docs) tokens += tok.encode(d).length;
  const encodeS = (performance.now() - t1) / 1000;
  return {
    corpusMB: +(bytes / 1e6).toFixed(2),
    vocab: 2048,
    trainSeconds: +trainS.toFixed(2),
    encodeMBps: +(bytes / 1e6 / encodeS).toFixed(1),
    bytesPerToken: +(bytes / tokens).toFixed(2),
  };
}

export async function runBenchmarks(opts: {
  quick?: boolean;
  peer?: boolean;
  backend?: BackendPreference;
  peerScript?: string;
  rounds?: number;
}): Promise<void> {
  const backend = opts.backend ?? 'wasm';
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  const steps = opts.quick ? 3 : 8;
  // The same 1 MB of JavaScript for both (the peer turns its whole file into a tensor: more would inflate its memory).
  const data = path.join(os.tmpdir(), `gpt-lab-bench-${process.pid}.js`);
  writeFileSync(data, readFileSync(require.resolve('typescript/lib/typescript.js')).subarray(0, 1 << 20));
  const script = opts.peerScript ?? path.resolve(__dirname, '../../../bench/peer/gpt_torch.py');
  const withPeer = !!opts.peer && existsSync('/usr/bin/python3') && existsSync(script);
  const result: Json = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpuInfo(),
      cpus: os.cpus().length,
      memGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAtStart: os.loadavg().map((l) => +l.toFixed(1)),
    },
    backend,
    rounds,
    data: '1 MiB of typescript/lib/typescript.js',
  };
  if (opts.peer && !withPeer) result.peerError = `no /usr/bin/python3 or no peer script at ${script}`;

  let peakGFLOPs = NaN;
  const best: Record<string, PeerSetting> = {};
  if (withPeer) {
    log('the machine’s fp32 matmul peak (PyTorch, 1024³, each thread setting)…');
    const mm = PEER_SETTINGS.map((s) => peer(script, s, ['--matmul']));
    peakGFLOPs = Math.max(...mm.map((r) => num(r, 'matmul', 'GFLOPs')).filter(Number.isFinite));
    result.matmulPeak = { GFLOPs: round(peakGFLOPs), bySetting: mm };
    log('the peer’s fastest thread setting per config…');
    const probes: Json = {};
    for (const name of Object.keys(CONFIGS)) {
      const runs = PEER_SETTINGS.map((s) =>
        peer(script, s, [...peerSizeArgs(name), '--data', data, '--steps', '3', '--warmup', '1', '--nogen']),
      );
      best[name] = runs.reduce((a, b) => (num(b, 'train', 'tokPerSec') > num(a, 'train', 'tokPerSec') ? b : a))
        .setting as PeerSetting;
      probes[name] = runs.map((r) => ({ setting: r.setting, tokPerSec: num(r, 'train', 'tokPerSec') }));
    }
    const genRuns = PEER_SETTINGS.map((s) => peer(script, s, ['--config', 'B', '--data', data, '--notrain']));
    best.gen = genRuns.reduce((a, b) => (num(b, 'gen', 'kvCache_32tok_ms') < num(a, 'gen', 'kvCache_32tok_ms') ? b : a))
      .setting as PeerSetting;
    probes.generation = genRuns.map((r) => ({
      setting: r.setting,
      kvCache_32tok_ms: num(r, 'gen', 'kvCache_32tok_ms'),
    }));
    result.peerSettingProbe = probes;
  }
  const engineMatmul = engine({ kind: 'matmul', n: 1024 }, backend);
  result.engineMatmul = engineMatmul;

  // Rounds: engine, then peer, config by config; medians over the rounds.
  // cpu: on another backend (webgpu), generation on wasm in the same rounds, so the GPU's figures stand beside it.
  const runs: Record<string, { engine: Json[]; peer: Json[]; cpu?: Json[] }> = {};
  for (const name of [...Object.keys(CONFIGS), 'generation']) runs[name] = { engine: [], peer: [] };
  const cpuBeside = backend !== 'wasm' && backend !== 'cpu';
  if (cpuBeside) runs.generation.cpu = [];
  result.runs = runs;
  for (let r = 1; r <= rounds; r++) {
    for (const [name, c] of Object.entries(CONFIGS)) {
      log(`round ${r}/${rounds}: training, config ${name}…`);
      // Settings alternate in order round by round, so neither always runs first.
      const order = r % 2 ? ENGINE_REPLICAS : [...ENGINE_REPLICAS].reverse();
      for (const replicas of order) {
        runs[name].engine.push(
          engine({ kind: 'train', model: c.model, batch: c.batch, steps, warmup: 2, data, replicas }, backend),
        );
      }
      if (withPeer) {
        const args = [...peerSizeArgs(name), '--data', data, '--steps', String(steps), '--warmup', '2', '--nogen'];
        runs[name].peer.push(peer(script, best[name], args));
      }
      save(result); // every run so far, should a slow machine's bench be stopped early
    }
    log(`round ${r}/${rounds}: generation, config B…`);
    const gen: ChildSpec = { kind: 'gen', model: CONFIGS.B.model, data, batchRows: GEN_ROWS };
    runs.generation.engine.push(engine(gen, backend));
    if (cpuBeside) runs.generation.cpu!.push(engine(gen, 'wasm'));
    if (withPeer) {
      const args = ['--config', 'B', '--data', data, '--notrain', '--genbatch', String(GEN_ROWS)];
      runs.generation.peer.push(peer(script, best.gen, args));
    }
  }
  save(result); // so far, in case a later part fails

  const summary: Json = {};
  for (const [name, c] of Object.entries(CONFIGS)) {
    const bySetting = ENGINE_REPLICAS.map((replicas) => {
      const rs = runs[name].engine.filter((x) => (x.replicas ?? 1) === replicas);
      return {
        replicas,
        tokPerSec: med(rs, 'tokPerSec'),
        peakRssMiB: med(rs, 'peakRssMiB'),
        ms: med(rs, 'allReduceMsMedian'),
      };
    });
    const fastest = bySetting.reduce((a, b) => (b.tokPerSec > a.tokPerSec || !(a.tokPerSec > 0) ? b : a));
    const e = fastest.tokPerSec;
    const p = med(runs[name].peer, 'train', 'tokPerSec');
    const fpt = flopsPerToken(c.model);
    summary[name] = {
      engineTokPerSec: round(e, 0),
      peerTokPerSec: round(p, 0),
      ratio: round(e / p, 3),
      engineGFLOPs: round((e * fpt) / 1e9),
      peerGFLOPs: round((p * fpt) / 1e9),
      enginePctOfPeak: round(((e * fpt) / 1e9 / peakGFLOPs) * 100, 1),
      peerPctOfPeak: round(((p * fpt) / 1e9 / peakGFLOPs) * 100, 1),
      enginePeakRssMiB: round(fastest.peakRssMiB, 0),
      peerPeakRssMiB: round(med(runs[name].peer, 'peakRssMiB'), 0),
      engineSetting: { replicas: fastest.replicas },
      engineBySetting: bySetting.map((b) => ({
        replicas: b.replicas,
        tokPerSec: round(b.tokPerSec, 0),
        ...(b.replicas > 1 && { allReduceMs: round(b.ms, 1) }),
      })),
      peerSetting: best[name],
    };
  }
  const ge = runs.generation.engine;
  const gp = runs.generation.peer;
  const eMs = med(ge, 'kvCache_32tok_ms') / 32;
  const pMs = med(gp, 'gen', 'kvCache_32tok_ms') / 32;
  const eBatch = med(ge, 'batch', 'tokPerSec');
  const pBatch = med(gp, 'gen', 'batch', 'tokPerSec');
  summary.generation = {
    config: 'B, 64-token prompt, 32 new tokens, greedy, KV cache',
    engineMsPerToken: round(eMs, 3),
    peerMsPerToken: round(pMs, 3),
    speedRatio: round(pMs / eMs, 3),
    engineKvMatchesFull: ge.every((r) => r.kvMatchesFull === true),
    batchRows: GEN_ROWS,
    engineBatchTokPerSec: round(eBatch, 0),
    peerBatchTokPerSec: round(pBatch, 0),
    batchRatio: round(eBatch / pBatch, 3),
    enginePeakRssMiB: round(med(ge, 'peakRssMiB'), 0),
    peerPeakRssMiB: round(med(gp, 'peakRssMiB'), 0),
    peerSetting: best.gen,
    engineBatchKvCache: ge.every((r) => (r.batch as Json | undefined)?.kvCache === true),
    ...(runs.generation.cpu && {
      cpuMsPerToken: round(med(runs.generation.cpu, 'kvCache_32tok_ms') / 32, 3),
      cpuBatchTokPerSec: round(med(runs.generation.cpu, 'batch', 'tokPerSec'), 0),
    }),
  };
  result.summary = summary;

  // Memory per preset: training and generation, each in a process of its own.
  const presets: Json = {};
  for (const p of Object.values(PRESETS)) {
    log(`memory, preset ${p.name}…`);
    const s = p.name === 'base' ? Math.max(2, Math.round(steps / 4)) : steps;
    const t = engine({ kind: 'train', model: p.model, batch: p.batchSize, steps: s, warmup: 1, data }, backend);
    const g = engine({ kind: 'gen', model: p.model, data, batchRows: GEN_ROWS }, backend);
    presets[p.name] = {
      train: { tokPerSec: t.tokPerSec, achievedGFLOPs: t.achievedGFLOPs, peakRssMiB: t.peakRssMiB, error: t.error },
      generation: {
        msPerToken: g.kvCache_msPerToken,
        batchTokPerSec: num(g, 'batch', 'tokPerSec'),
        peakRssMiB: g.peakRssMiB,
        error: g.error,
      },
    };
  }
  result.presets = presets;
  log('tokenizer…');
  result.tokenizer = benchTokenizer(opts.quick ? 1 : 3);
  rmSync(data, { force: true });
  (result.machine as Json).loadAverageAtEnd = os.loadavg().map((l) => +l.toFixed(1));

  process.stdout.write(save(result) + '\n');
  log(table(result));
}

/** Writes .artifacts/bench.json; returns the JSON. */
function save(result: Json): string {
  const json = JSON.stringify(result, null, 2);
  const dir = path.resolve(__dirname, '../../../.artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'bench.json'), json + '\n');
  return json;
}

/** The summary as a readable table (stderr; the JSON is on stdout). */
export function table(r: Json): string {
  const s = r.summary as Record<string, Json>;
  const f = (x: unknown) => (typeof x === 'number' ? x.toLocaleString('en-US') : '—');
  const lines = [
    `${(r.machine as Json & { cpu: Json }).cpu.model}, ${(r.machine as Json).cpus} CPUs, ${r.date}; ` +
      `matmul peak ${f((r.matmulPeak as Json | undefined)?.GFLOPs)} GFLOP/s; medians of ${r.rounds} rounds`,
    '| training | engine tok/s (replicas) | peer tok/s (threads) | ratio | engine GFLOP/s (% peak) | peer GFLOP/s (% peak) | peak RSS engine / peer |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const name of Object.keys(CONFIGS)) {
    const c = s[name];
    lines.push(
      `| ${name} | ${f(c.engineTokPerSec)} (${f((c.engineSetting as Json | undefined)?.replicas)}) | ` +
        `${f(c.peerTokPerSec)} (${f((c.peerSetting as Json | undefined)?.torchThreads)}) | ${f(c.ratio)} | ` +
        `${f(c.engineGFLOPs)} (${f(c.enginePctOfPeak)}%) | ${f(c.peerGFLOPs)} (${f(c.peerPctOfPeak)}%) | ` +
        `${f(c.enginePeakRssMiB)} / ${f(c.peerPeakRssMiB)} MiB |`,
    );
  }
  const g = s.generation;
  lines.push(
    '',
    `generation (${g.config}): engine ${f(g.engineMsPerToken)} ms/token, peer ${f(g.peerMsPerToken)} (peer/engine ${f(g.speedRatio)}); ` +
      `${g.batchRows} rows: engine ${f(g.engineBatchTokPerSec)} tok/s, peer ${f(g.peerBatchTokPerSec)} (ratio ${f(g.batchRatio)}); ` +
      `peak RSS ${f(g.enginePeakRssMiB)} / ${f(g.peerPeakRssMiB)} MiB`,
  );
  if (g.cpuMsPerToken !== undefined)
    lines.push(
      `generation on ${r.backend} beside wasm (CPU), same rounds: ${f(g.engineMsPerToken)} vs ${f(g.cpuMsPerToken)} ` +
        `ms/token at batch 1; ${g.batchRows} rows ${f(g.engineBatchTokPerSec)} vs ${f(g.cpuBatchTokPerSec)} tok/s ` +
        `(${r.backend}: ${g.engineBatchKvCache ? 'KV cache' : 'each step recomputes the rows'})`,
    );
  for (const [name, p] of Object.entries(r.presets as Record<string, Record<string, Json>>)) {
    lines.push(
      `preset ${name}: train ${f(p.train.tokPerSec)} tok/s, peak RSS ${f(p.train.peakRssMiB)} MiB; ` +
        `generation ${f(p.generation.msPerToken)} ms/token, ${f(p.generation.batchTokPerSec)} tok/s batched, ` +
        `peak RSS ${f(p.generation.peakRssMiB)} MiB`,
    );
  }
  return lines.join('\n');
}
