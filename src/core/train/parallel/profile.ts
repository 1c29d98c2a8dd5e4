/**
 * Where a data-parallel step's time goes, replica by replica (bench/replicas.ts --profile): each replica writes
 * the time it passed each phase boundary of each step into a Float64 region of the shared buffer. Off by default:
 * without a region no replica reads a clock.
 */
import { openSync, readSync } from 'node:fs';

/** The phase boundaries a replica marks in a step, in order. */
export const MARK = {
  /** Replica 0: entering the step (after the loop's work since the last one); the others: seeing the command. */
  command: 0,
  /** The step's shard read from shared memory: forward and backward start. */
  start: 1,
  /** tf.variableGrads returned (forward + backward). */
  grads: 2,
  /** The shard's loss read (dataSync: the backward's last kernels finish here). */
  loss: 3,
  /** The gradient copied into the replica's slot and its tensors freed: arriving at the barrier. */
  written: 4,
  /** Every replica arrived: the barrier released this one. */
  released: 5,
  /** The weighted sum of the slots done. */
  reduced: 6,
  /** The averaged gradient back in tensors. */
  read: 7,
  /** The optimizer step and the gradient norm's read done. */
  stepped: 8,
  size: 9,
} as const;

/**
 * After a step's marks: the milliseconds its thread ran on a CPU and waited for one (runnable, not running) from
 * `command` to `stepped`, from Linux's /proc/thread-self/schedstat (NaN elsewhere). Waiting means the machine's
 * cores were busy with other threads: this process's own, or other processes'.
 */
const SCHED = { runMs: MARK.size, waitMs: MARK.size + 1 } as const;
const WORDS = MARK.size + 2;

/** Names of the phases between consecutive marks, and of the time before a step (see stepPhases). */
export const PHASES = [
  'between',
  'setup',
  'fwdBwd',
  'lossRead',
  'write',
  'barrier',
  'reduce',
  'read',
  'optimizer',
  // Not phases: the step's CPU time and run-queue wait (SCHED).
  'cpu',
  'runQueue',
];

/** Wall-clock milliseconds every thread agrees on (performance.now() counts from each thread's own start). */
const clock = () => performance.timeOrigin + performance.now();

/** Float64 words of the profile region: `steps` steps of marks per replica, kept as a ring. */
export function profileWords(replicas: number, steps: number): number {
  return replicas * steps * WORDS;
}

/** This thread's CPU time and run-queue wait so far (ns), or undefined where the kernel does not say. */
class SchedStat {
  private readonly fd?: number;
  private readonly buf = Buffer.alloc(96);

  constructor() {
    try {
      this.fd = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      this.fd = undefined;
    }
  }

  read(): [number, number] {
    if (this.fd === undefined) return [NaN, NaN];
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    const [run, wait] = this.buf.toString('latin1', 0, n).split(' ').map(Number);
    return [run, wait];
  }
}

/** One replica's marks, written into its part of the region; `begin` starts the next step. */
export class StepMarks {
  private step = -1;
  private readonly sched = new SchedStat();
  private schedAtBegin: [number, number] = [NaN, NaN];

  constructor(
    private readonly region: Float64Array,
    private readonly rank: number,
    private readonly steps: number,
  ) {}

  begin(): void {
    this.step++;
    this.mark(MARK.command);
    this.schedAtBegin = this.sched.read();
  }

  mark(m: number): void {
    const at = (this.rank * this.steps + (this.step % this.steps)) * WORDS;
    this.region[at + m] = clock();
    if (m !== MARK.stepped) return;
    const [run, wait] = this.sched.read();
    this.region[at + SCHED.runMs] = (run - this.schedAtBegin[0]) / 1e6;
    this.region[at + SCHED.waitMs] = (wait - this.schedAtBegin[1]) / 1e6;
  }
}

/** Marks of replica `rank` at step `s` (counted from the first, modulo the ring). */
function marksAt(region: Float64Array, steps: number, rank: number, s: number): Float64Array {
  const at = (rank * steps + (s % steps)) * WORDS;
  return region.subarray(at, at + WORDS);
}

/**
 * Each phase's duration (ms) for replica `rank` at step `s` ≥ 1, in PHASES' order: `between` is the time since
 * its last step ended (replica 0: the loop's own work; the others: waiting for the command).
 */
export function stepPhases(region: Float64Array, steps: number, rank: number, s: number): number[] {
  const m = marksAt(region, steps, rank, s);
  const prev = marksAt(region, steps, rank, s - 1);
  const out = [m[MARK.command] - prev[MARK.stepped]];
  for (let i = 1; i < MARK.size; i++) out.push(m[i] - m[i - 1]);
  out.push(m[SCHED.runMs], m[SCHED.waitMs]);
  return out;
}

export interface PhaseSummary {
  /** By rank: each phase's median milliseconds. */
  medianMs: Record<string, number>[];
  /** By rank: the median of when it arrived at the barrier after the earliest replica did (ms). */
  arrivesLateMs: number[];
  /** By rank: in how many of the steps it was the last to arrive at the barrier. */
  lastToArrive: number[];
  /** By rank ≥ 1: median ms from replica 0 starting the step to this replica seeing it. */
  wakeMs: number[];
  steps: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const round = (x: number) => Math.round(x * 1000) / 1000;

/** Per-replica medians over steps [from, to) of the ring (each step's marks complete, from ≥ 1). */
export function summarize(
  region: Float64Array,
  replicas: number,
  steps: number,
  from: number,
  to: number,
): PhaseSummary {
  const perRank = Array.from({ length: replicas }, () => PHASES.map(() => [] as number[]));
  const late = Array.from({ length: replicas }, () => [] as number[]);
  const wake = Array.from({ length: replicas }, () => [] as number[]);
  const lastToArrive = new Array<number>(replicas).fill(0);
  for (let s = from; s < to; s++) {
    const written = [];
    for (let r = 0; r < replicas; r++) {
      stepPhases(region, steps, r, s).forEach((ms, i) => perRank[r][i].push(ms));
      written.push(marksAt(region, steps, r, s)[MARK.written]);
      wake[r].push(marksAt(region, steps, r, s)[MARK.command] - marksAt(region, steps, 0, s)[MARK.command]);
    }
    const first = Math.min(...written);
    written.forEach((w, r) => late[r].push(w - first));
    lastToArrive[written.indexOf(Math.max(...written))]++;
  }
  return {
    medianMs: perRank.map((phases) => Object.fromEntries(PHASES.map((p, i) => [p, round(median(phases[i]))]))),
    arrivesLateMs: late.map((xs) => round(median(xs))),
    lastToArrive,
    wakeMs: wake.map((xs) => round(median(xs))).slice(1),
    steps: to - from,
  };
}
