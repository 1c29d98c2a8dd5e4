import { spawnSync } from 'node:child_process';
import type { Command, Option } from 'commander';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackendPreference, initBackend } from '../core/backend';
import { evaluateModelCompletions } from '../core/complete/modelEval';
import { readCorpus, splitByFile } from '../core/corpus';
import { GptLabError } from '../core/errors';
import { GPTConfig, parameterCount, withArchitecture } from '../core/model/config';
import { defaultTrainConfig, TrainConfig } from '../core/train/config';
import { heldOutBitsPerByteOfFolder } from '../core/train/heldOut';
import { replicasFromEnv } from '../core/train/parallel/replicas';
import { pretrain } from '../core/train/trainer';
import { int, positive } from './options';
import { formatDuration, Output } from './output';

/*
 * `gpt-lab experiment`: recipe variants trained side by side on one corpus for one budget, with seeds, against
 * the baselines a user could pick instead (xz -9e, alone and given the training files). Figures are benchmark
 * results: compare rows of one run, on one machine, at one time.
 */

export interface ExperimentCliOptions {
  variants?: string;
  minutes?: string;
  cpuMinutes?: string;
  tokens?: string;
  seeds?: string;
  preset?: string;
  points?: string;
  targetBpb?: string;
  positions?: string;
  work?: string;
  backend: BackendPreference;
  json?: boolean;
  include?: string[];
  exclude?: string[];
}

/**
 * One word of a variant: `gpt2` and `modern` set the whole recipe (`--arch`'s: modern trains with AdamW and WSD);
 * the others change one thing. A variant is words joined by '+': `gpt2+rotary`, `modern+muon`, `modern+ctx128`.
 */
const WORDS: Record<string, (c: TrainConfig) => void> = {
  gpt2: (c) => Object.assign(c, withArchitecture(c, 'gpt2')),
  modern: (c) => Object.assign(c, withArchitecture(c, 'modern')),
  rotary: (c) => void (c.model.positionEncoding = 'rotary'),
  learned: (c) => void (c.model.positionEncoding = 'learned'),
  qknorm: (c) => void (c.model.qkNorm = true),
  relu2: (c) => void (c.model.mlp = 'relu2'),
  gelu: (c) => void (c.model.mlp = 'gelu'),
  untied: (c) => void (c.model.untiedHead = true),
  tied: (c) => void (c.model.untiedHead = false),
  nobias: (c) => void (c.model.bias = false),
  bias: (c) => void (c.model.bias = true),
  zeroinit: (c) => void (c.model.zeroInitProj = true),
  softcap: (c) => void (c.model.logitSoftCap = 30),
  nosoftcap: (c) => void (c.model.logitSoftCap = 0),
  vres: (c) => void (c.model.valueResidual = true),
  novres: (c) => void (c.model.valueResidual = false),
  x0: (c) => void (c.model.embedShortcut = true),
  nox0: (c) => void (c.model.embedShortcut = false),
  wsd: (c) => void (c.schedule = 'wsd'),
  cosine: (c) => void (c.schedule = 'cosine'),
  muon: (c) => void (c.optimizer = 'muon'),
  adamw: (c) => void (c.optimizer = 'adamw'),
};

/**
 * Words with a number: ctx128, embd96, layers3, heads4, vocab2048, batch8, lr0.002, muonlr0.03, warmup10 (steps),
 * decay0.5 (the WSD schedule's decay share), fim0, passes8 (a cap in passes over the training tokens, as auto sets),
 * drop0.1 (pre-training's dropout), muonwd0.1 (Muon's decoupled weight decay).
 */
const NUMBERED: Record<string, (c: TrainConfig, n: number) => void> = {
  ctx: (c, n) => void (c.model.contextLength = n),
  embd: (c, n) => void (c.model.nEmbd = n),
  layers: (c, n) => void (c.model.nLayer = n),
  heads: (c, n) => void (c.model.nHead = n),
  vocab: (c, n) => void (c.model.vocabSize = n),
  batch: (c, n) => void (c.batchSize = n),
  lr: (c, n) => {
    c.learningRate = n;
    c.minLearningRate = n / 10;
  },
  muonlr: (c, n) => void (c.muonLearningRate = n),
  warmup: (c, n) => void (c.warmupSteps = n),
  decay: (c, n) => void (c.decayFraction = n),
  fim: (c, n) => void (c.fimRate = n),
  passes: (c, n) => void (c.maxPasses = n),
  drop: (c, n) => void (c.dropout = n),
  muonwd: (c, n) => void (c.muonWeightDecay = n),
};

/** The training config of a variant on a preset. */
export function variantConfig(spec: string, preset: string, base: Partial<TrainConfig> = {}): TrainConfig {
  const c = defaultTrainConfig(preset, base);
  c.model = { ...c.model };
  for (const word of spec.split('+').filter(Boolean)) {
    const fixed = WORDS[word];
    if (fixed) {
      fixed(c);
      continue;
    }
    const m = /^([a-z]+)([0-9.]+)$/.exec(word);
    const numbered = m && NUMBERED[m[1]];
    if (!m || !numbered || !Number.isFinite(Number(m[2]))) {
      throw new GptLabError(
        `Unknown variant word '${word}' in '${spec}'. Words: ${Object.keys(WORDS).join(', ')}, or ${Object.keys(NUMBERED).join('N, ')}N.`,
        'BAD_OPTION',
      );
    }
    numbered(c, Number(m[2]));
  }
  return c;
}

export interface CurvePoint {
  step: number;
  tokens: number;
  /** Share of the budget used when the evaluation ran. */
  fraction: number;
  valBpb: number;
}

export interface RunResult {
  variant: string;
  seed: number;
  params: number;
  steps: number;
  tokens: number;
  elapsedMs: number;
  tokensPerSec: number;
  /**
   * Held-out bits per byte at each requested share of the budget (the evaluation nearest to it), as training
   * measures it: a sample of windows that each start from nothing.
   */
  bpbAt: { fraction: number; valBpb: number }[];
  /** The last of those sampled figures (what 'tokens→target' defaults to). */
  finalBpb: number;
  /**
   * The saved model on every held-out token, sliding windows of the context (heldOut.ts): the same files and bytes
   * as the xz baselines; the end-of-text after each file is scored too (a compressor must code where a file ends).
   */
  heldOutBpb: number;
  /** CPU time of the process (user + system) over the whole run: tokenizer, training and its evaluations. */
  cpuMs: number;
  /** Of which training the tokenizer took (CPU ms; the minutes budgets do not count it, as in `gpt-lab train`). */
  tokenizerCpuMs: number;
  /** Training tokens until the held-out bpb first reached the target (null: never). */
  tokensToTarget: number | null;
  exactMatch: number;
  charsSaved: number;
  shown: number;
  curve: CurvePoint[];
}

export interface Baselines {
  heldOutBytes: number;
  trainBytes: number;
  /** xz -9e on the held-out files alone, bits per byte (null when xz is missing). */
  xzAlone: number | null;
  /** (xz(train + held-out) − xz(train)) · 8 / held-out bytes: xz that has read the training files first. */
  xzGivenTrain: number | null;
}

export interface ExperimentResult {
  corpus: string;
  budget: { minutes?: number; cpuMinutes?: number; tokens?: number };
  preset: string;
  seeds: number[];
  targetBpb: number | null;
  /** On the held-out files of every run (one split, whatever the seed). */
  baselines: Baselines;
  runs: RunResult[];
  /** Per variant, the mean over seeds. */
  summary: Omit<RunResult, 'seed' | 'curve' | 'steps' | 'params'>[];
  date: string;
  machine: string;
}

/** Compressed size in bytes of `data` by `xz -9e` (null when xz cannot run). */
export function xzSize(data: Uint8Array): number | null {
  const r = spawnSync('xz', ['-9e', '-c', '-T1', '-q'], { input: data, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) return null;
  return r.stdout.length;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The xz baselines on the same held-out files the models are evaluated on. */
export function xzBaselines(train: Uint8Array[], heldOut: Uint8Array[]): Baselines {
  const t = concat(train);
  const h = concat(heldOut);
  const alone = xzSize(h);
  const both = xzSize(concat([t, h]));
  const trainOnly = xzSize(t);
  return {
    heldOutBytes: h.length,
    trainBytes: t.length,
    xzAlone: alone === null || h.length === 0 ? null : (alone * 8) / h.length,
    xzGivenTrain: both === null || trainOnly === null || h.length === 0 ? null : ((both - trainOnly) * 8) / h.length,
  };
}

/** The evaluation nearest to each share of the budget. */
export function bpbAtFractions(curve: CurvePoint[], fractions: number[]): { fraction: number; valBpb: number }[] {
  return fractions.map((f) => {
    let best = curve[0];
    for (const p of curve) if (Math.abs(p.fraction - f) < Math.abs(best.fraction - f)) best = p;
    return { fraction: f, valBpb: best?.valBpb ?? NaN };
  });
}

/** Tokens seen when the curve first reached `target` bpb, interpolated between evaluations; null if never. */
export function tokensToTarget(curve: CurvePoint[], target: number): number | null {
  for (let i = 0; i < curve.length; i++) {
    if (curve[i].valBpb <= target) {
      if (i === 0) return curve[i].tokens;
      const a = curve[i - 1];
      const b = curve[i];
      const t = (a.valBpb - target) / (a.valBpb - b.valBpb);
      return Math.round(a.tokens + t * (b.tokens - a.tokens));
    }
  }
  return null;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

function parseList(text: string | undefined, fallback: string): string[] {
  return (text ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function experimentCommand(dir: string, o: ExperimentCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const result = await runExperiment(dir, o, out);
  out.event('result', result);
  if (!o.json) out.result(formatTable(result));
}

/** Trains every variant × seed, evaluates them, and computes the baselines. */
export async function runExperiment(dir: string, o: ExperimentCliOptions, out: Output): Promise<ExperimentResult> {
  const minutes = o.minutes !== undefined ? positive(o.minutes, '--minutes') : undefined;
  const cpuMinutes = o.cpuMinutes !== undefined ? positive(o.cpuMinutes, '--cpu-minutes') : undefined;
  const tokens = o.tokens !== undefined ? int(o.tokens, '--tokens') : undefined;
  if ([minutes, cpuMinutes, tokens].filter((b) => b !== undefined).length !== 1) {
    throw new GptLabError('Give one budget per run: --minutes N or --tokens N (or --cpu-minutes N).', 'BAD_OPTION');
  }
  // A CPU budget counts every thread of the process: it is a proxy for one thread's minutes, so one replica.
  const replicas = replicasFromEnv(process.env.GPT_LAB_REPLICAS);
  if (cpuMinutes !== undefined && replicas !== 1) {
    throw new GptLabError(
      `--cpu-minutes measures one training thread; GPT_LAB_REPLICAS=${process.env.GPT_LAB_REPLICAS} asks for replicas (unset it, or use --minutes).`,
      'BAD_OPTION',
    );
  }
  if (tokens !== undefined && !(tokens > 0)) throw new GptLabError('--tokens must be positive.', 'BAD_OPTION');
  const preset = o.preset ?? 'tiny';
  const variants = parseList(o.variants, 'gpt2,modern');
  const seeds = parseList(o.seeds, '1').map((s) => int(s, '--seeds')!);
  const nPoints = o.points !== undefined ? int(o.points, '--points')! : 4;
  const fractions = Array.from({ length: nPoints }, (_, i) => (i + 1) / nPoints);
  const positions = o.positions !== undefined ? int(o.positions, '--positions')! : 50;
  const configs = variants.map((v) => ({ v, cfg: variantConfig(v, preset) })); // every word checked before training

  const backend = await initBackend(o.backend);
  out.info(`backend: ${backend.name}`);
  const root = path.resolve(dir);
  const corpus = await readCorpus(root, {
    ...(o.include && { include: o.include }),
    ...(o.exclude && { exclude: o.exclude }),
  });
  if (corpus.files.length === 0) throw new GptLabError(`No source files in ${root}.`, 'EMPTY_CORPUS');
  // One split for every run (whatever its seed), so all rows and the baselines hold out the same files.
  const base = defaultTrainConfig(preset);
  const splitSeed = base.seed;
  const { train, val } = splitByFile(corpus.files, base.valFraction, splitSeed);
  const heldOutBytes = (val.length ? val : train).map((f) => f.bytes);
  const baselines = xzBaselines(
    train.map((f) => f.bytes),
    heldOutBytes,
  );
  out.info(
    `corpus: ${corpus.files.length} files, ${baselines.trainBytes} training / ${baselines.heldOutBytes} held-out bytes ` +
      `(${val.length} files); xz -9e: ${fmt(baselines.xzAlone)} bpb alone, ${fmt(baselines.xzGivenTrain)} given the training files`,
  );
  out.event('baselines', { ...baselines, heldOutFiles: val.map((f) => f.path) });

  const work = o.work ? path.resolve(o.work) : await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-experiment-'));
  const runs: RunResult[] = [];
  // Seeds outer, variants inner: the variants alternate, so a change in the machine's load falls on all of them.
  for (const seed of seeds) {
    for (const { v, cfg: vcfg } of configs) {
      const cfg: TrainConfig = {
        ...vcfg,
        model: { ...vcfg.model },
        seed,
        splitSeed,
        maxMinutes: minutes,
        maxCpuMinutes: cpuMinutes,
        maxSteps:
          tokens !== undefined
            ? Math.max(1, Math.ceil(tokens / (vcfg.batchSize * vcfg.model.contextLength)))
            : undefined,
        evalBatches: Math.max(vcfg.evalBatches, 8),
        checkpointInterval: 1e9,
        logInterval: 1e9,
      };
      if (tokens !== undefined) cfg.evalInterval = Math.max(1, Math.floor(cfg.maxSteps! / (2 * nPoints)));
      else cfg.evalInterval = 25;
      const outDir = path.join(work, `${v.replace(/[^a-z0-9.+-]/gi, '_')}-s${seed}`);
      await fs.rm(outDir, { recursive: true, force: true });
      await fs.mkdir(outDir, { recursive: true });
      const curve: CurvePoint[] = [];
      let lastFraction = 0;
      let lastTokens = 0;
      let lastStep = 0;
      out.info(`${v} (seed ${seed}): training…`);
      const cpu0 = process.cpuUsage();
      let tokenizerCpuMs = 0;
      const r = await pretrain({
        files: corpus.files,
        config: cfg,
        outDir,
        replicas,
        corpusSummary: { root, ...corpus.summary }, // so `gpt-lab eval --model` finds the corpus
        hooks: {
          onLog: (m) => {
            // The tokenizer trains before the loop's budget starts: its CPU time is reported beside it.
            if (m.startsWith('tokenizer:')) tokenizerCpuMs = cpuMsSince(cpu0);
          },
          onProgress: (p) => {
            lastFraction = p.fraction;
            lastTokens = p.tokensSeen;
            lastStep = p.step;
            out.progress(p.fraction, `${v} s${seed}: step ${p.step}, loss ${p.loss.toFixed(3)}`);
          },
          onEval: (e) => {
            if (typeof e.valBpb === 'number') {
              curve.push({
                step: e.step,
                tokens: e.step === 0 ? 0 : lastTokens,
                fraction: e.step === 0 ? 0 : lastFraction,
                valBpb: e.valBpb,
              });
            }
            void lastStep;
          },
        },
      });
      const cpuMs = cpuMsSince(cpu0);
      const ev = await evaluateModelCompletions(outDir, corpus.files, positions);
      const held = (await heldOutBitsPerByteOfFolder(outDir, heldOutBytes))!;
      if (held.bytes !== baselines.heldOutBytes) throw new Error('held-out bytes differ from the baselines’');
      const run: RunResult = {
        variant: v,
        seed,
        params: parameterCount({ ...cfg.model, vocabSize: r.vocabSize } as GPTConfig),
        steps: r.step,
        tokens: r.tokensSeen,
        elapsedMs: Math.round(r.elapsedMs),
        tokensPerSec: Math.round((r.tokensSeen * 1000) / Math.max(1, r.elapsedMs)),
        cpuMs: Math.round(cpuMs),
        tokenizerCpuMs: Math.round(tokenizerCpuMs),
        bpbAt: bpbAtFractions(curve, fractions),
        finalBpb: r.valBpb,
        heldOutBpb: held.bitsPerByte,
        tokensToTarget: null,
        exactMatch: ev.exactMatch,
        charsSaved: ev.charsSaved,
        shown: ev.shown,
        curve,
      };
      runs.push(run);
      out.clear();
      out.info(
        `${v} (seed ${seed}): ${run.steps} steps, ${run.tokens} tokens in ${formatDuration(run.elapsedMs)} ` +
          `(CPU ${formatDuration(run.cpuMs)}, tokenizer ${formatDuration(run.tokenizerCpuMs)}), held-out ${run.heldOutBpb.toFixed(3)} bpb ` +
          `(sampled ${run.finalBpb.toFixed(3)})`,
      );
      out.event('run', run);
    }
  }

  // The target: given, or the first variant's mean final loss (how many tokens the others need to match it).
  const first = runs.filter((r) => r.variant === variants[0]);
  const targetBpb: number =
    o.targetBpb !== undefined ? positive(o.targetBpb, '--target-bpb')! : mean(first.map((r) => r.finalBpb));
  for (const r of runs) r.tokensToTarget = Number.isFinite(targetBpb) ? tokensToTarget(r.curve, targetBpb) : null;

  const summary = variants.map((v) => {
    const rs = runs.filter((r) => r.variant === v);
    const reached = rs.map((r) => r.tokensToTarget).filter((t): t is number => t !== null);
    return {
      variant: v,
      tokens: Math.round(mean(rs.map((r) => r.tokens))),
      elapsedMs: Math.round(mean(rs.map((r) => r.elapsedMs))),
      tokensPerSec: Math.round(mean(rs.map((r) => r.tokensPerSec))),
      cpuMs: Math.round(mean(rs.map((r) => r.cpuMs))),
      tokenizerCpuMs: Math.round(mean(rs.map((r) => r.tokenizerCpuMs))),
      bpbAt: fractions.map((f, i) => ({ fraction: f, valBpb: mean(rs.map((r) => r.bpbAt[i].valBpb)) })),
      finalBpb: mean(rs.map((r) => r.finalBpb)),
      heldOutBpb: mean(rs.map((r) => r.heldOutBpb)),
      tokensToTarget: reached.length === rs.length ? Math.round(mean(reached)) : null,
      exactMatch: mean(rs.map((r) => r.exactMatch)),
      charsSaved: mean(rs.map((r) => r.charsSaved)),
      shown: mean(rs.map((r) => r.shown)),
    };
  });
  return {
    corpus: root,
    budget: {
      ...(minutes !== undefined && { minutes }),
      ...(cpuMinutes !== undefined && { cpuMinutes }),
      ...(tokens !== undefined && { tokens }),
    },
    preset,
    seeds,
    targetBpb: Number.isFinite(targetBpb) ? targetBpb : null,
    baselines,
    runs,
    summary,
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, backend ${backend.name}`,
  };
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

function fmt(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** The result as a Markdown table: one row per variant (mean over seeds), then the baselines. */
export function formatTable(r: ExperimentResult): string {
  const budget =
    r.budget.minutes !== undefined
      ? `${r.budget.minutes} min`
      : r.budget.cpuMinutes !== undefined
        ? `${r.budget.cpuMinutes} CPU-min`
        : `${r.budget.tokens} tokens`;
  const pts = r.summary[0]?.bpbAt.map((p) => `sampled@${Math.round(p.fraction * 100)}%`) ?? [];
  const header = [
    ...['variant', 'tokens', 'tok/s', ...pts, 'held-out bpb', `tokens→${fmt(r.targetBpb)}`, 'exact', 'saved', 'shown'],
    'CPU min',
  ];
  const rows = r.summary.map((s) => [
    s.variant,
    String(s.tokens),
    String(s.tokensPerSec),
    ...s.bpbAt.map((p) => fmt(p.valBpb)),
    fmt(s.heldOutBpb),
    s.tokensToTarget === null ? '—' : String(s.tokensToTarget),
    pct(s.exactMatch),
    pct(s.charsSaved),
    pct(s.shown),
    fmt(s.cpuMs / 60_000, 2),
  ]);
  const blank = (label: string, bpb: number | null) => {
    const row = header.map(() => '');
    row[0] = label;
    row[3 + pts.length] = fmt(bpb); // the held-out column: the same files and bytes
    return row;
  };
  rows.push(blank('xz -9e (held-out alone)', r.baselines.xzAlone));
  rows.push(blank('xz -9e (given the training files)', r.baselines.xzGivenTrain));
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `Held-out bits per byte, ${r.preset} preset, ${budget} per run, seeds ${r.seeds.join(', ')} (means); ${r.machine}; ${r.date}`,
    `corpus: ${r.corpus} (${r.baselines.trainBytes} training / ${r.baselines.heldOutBytes} held-out bytes)`,
    'sampled@N%: the training curve at N% of the budget (a sample of windows that each start from nothing); ' +
      "held-out bpb: the final model on every held-out token, each predicted from at least half a context, as xz's rows code the same files; " +
      'tokens→: on the sampled curve',
    '',
    line(header),
    line(header.map(() => '---')),
    ...rows.map(line),
  ].join('\n');
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addExperimentCommand(program: Command, backendOption: () => Option): void {
  program
    .command('experiment')
    .description('train recipe variants side by side on DIR for one budget and print a table (with xz baselines)')
    .argument('[dir]', 'folder of source code', '.')
    .option(
      '--variants <list>',
      "comma-separated variants, words joined by '+': gpt2, modern, gpt2+rotary, modern+adamw, gpt2+ctx128 … (default gpt2,modern)",
    )
    .option('--minutes <n>', 'budget of each run in minutes of training')
    .option(
      '--cpu-minutes <n>',
      "budget of each run in minutes of this process's CPU time (user + system): on a shared machine, a proxy for an idle machine's minutes of one training thread (one replica only)",
    )
    .option('--tokens <n>', 'budget of each run in training tokens')
    .option('--seeds <list>', 'comma-separated seeds (default 1)')
    .option('--preset <name>', 'the size the variants start from (default tiny)')
    .option('--points <n>', 'shares of the budget at which to report held-out bpb (default 4: 25/50/75/100%)')
    .option('--target-bpb <x>', "target for 'tokens to reach' (default: the first variant's final bpb)")
    .option('--positions <n>', 'held-out cursor positions for the completion check (default 50)')
    .option('--work <dir>', 'folder for the runs’ model folders (default: a new temporary folder)')
    .option('--include <glob>', 'only files matching (gitignore syntax; repeatable)', collect)
    .option('--exclude <glob>', 'skip files matching (replaces the defaults; repeatable)', collect)
    .addOption(backendOption())
    .option('--json', 'JSON lines on stdout (a `run` event per run, then `result`)')
    .action((dir, opts) => experimentCommand(dir, opts));
}
