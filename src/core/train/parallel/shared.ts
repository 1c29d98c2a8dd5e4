/**
 * The memory replicas share: a control block, the batch, and two sets of gradient slots, one slot per replica.
 * Every replica (the loop's own thread is replica 0) sees the same SharedArrayBuffer; Atomics order the phases.
 */
import { profileWords } from './profile';

/** Int32 words of the control block. */
export const CTL = {
  /** Raised by replica 0 to start a command; replicas wait on it. */
  seq: 0,
  /** The command `seq` starts (see COMMAND). */
  command: 1,
  /** Barrier: replicas arrived so far, and the generation that releases them. */
  arrived: 2,
  generation: 3,
  /** 0 while all is well; FAILED when a replica failed (it also posts why); SHUTDOWN to end. */
  state: 4,
  /** Rows of this step's batch, and tokens per row. */
  rows: 5,
  cols: 6,
  /** Which of the two sets of gradient slots and losses this step uses (steps alternate). */
  parity: 7,
  /** The step's dropout seed (uint32 bits; read only when the run trains with dropout). */
  dropoutSeed: 8,
  /** Even, so the Float64 words after the block start 8-byte aligned. */
  size: 10,
} as const;

export const COMMAND = { step: 1, snapshot: 2, shutdown: 3 } as const;
export const STATE = { ok: 0, failed: 1, shutdown: 2 } as const;

/** Float64 words after the control block: the step's learning rate and clip, then each replica's loss (×2). */
const F64_FIXED = 2;

export interface SharedLayout {
  replicas: number;
  /** Floats in one full gradient (all trainable parameters, in the trainable map's order). */
  gradSize: number;
  /** Most tokens a batch holds (rows × cols), for the x and y regions. */
  maxTokens: number;
  /** Steps of phase marks kept per replica (profile.ts); absent or 0: no profile region, no clock reads. */
  profileSteps?: number;
}

/** Typed views of the shared buffer; each replica builds its own from the same buffer and layout. */
export class SharedStep {
  readonly ctl: Int32Array;
  readonly f64: Float64Array;
  readonly x: Int32Array;
  readonly y: Int32Array;
  /**
   * Replica r's gradient in a step of parity p: slots[p][r], gradSize floats. Two sets, so that a replica may
   * write the next step's gradient while a slower one still reads this step's: one barrier a step suffices.
   */
  readonly slots: Float32Array[][];
  /** Phase marks (profile.ts), when the layout asks for them. */
  readonly profile?: Float64Array;

  static allocate(layout: SharedLayout): SharedStep {
    return new SharedStep(new SharedArrayBuffer(SharedStep.bytes(layout)), layout);
  }

  static bytes({ replicas, gradSize, maxTokens, profileSteps = 0 }: SharedLayout): number {
    const head = CTL.size * 4 + (F64_FIXED + 2 * replicas + profileWords(replicas, profileSteps)) * 8;
    return head + 2 * maxTokens * 4 + 2 * replicas * gradSize * 4;
  }

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly layout: SharedLayout,
  ) {
    const { replicas, gradSize, maxTokens, profileSteps = 0 } = layout;
    let at = 0;
    this.ctl = new Int32Array(buffer, at, CTL.size);
    at += CTL.size * 4;
    this.f64 = new Float64Array(buffer, at, F64_FIXED + 2 * replicas);
    at += (F64_FIXED + 2 * replicas) * 8;
    if (profileSteps > 0) {
      this.profile = new Float64Array(buffer, at, profileWords(replicas, profileSteps));
      at += this.profile.byteLength;
    }
    this.x = new Int32Array(buffer, at, maxTokens);
    at += maxTokens * 4;
    this.y = new Int32Array(buffer, at, maxTokens);
    at += maxTokens * 4;
    this.slots = [[], []];
    for (const set of this.slots) {
      for (let r = 0; r < replicas; r++, at += gradSize * 4) set.push(new Float32Array(buffer, at, gradSize));
    }
  }

  get lr(): number {
    return this.f64[0];
  }
  get clip(): number {
    return this.f64[1];
  }
  setHyper(lr: number, clip: number): void {
    this.f64[0] = lr;
    this.f64[1] = clip;
  }
  loss(parity: number, r: number): number {
    return this.f64[F64_FIXED + parity * this.layout.replicas + r];
  }
  setLoss(parity: number, r: number, v: number): void {
    this.f64[F64_FIXED + parity * this.layout.replicas + r] = v;
  }

  /**
   * Arrives at the barrier; true for the last to arrive, which releases the others. The arrival count is reset
   * before the generation moves on, so the next barrier counts from zero.
   */
  arrive(): { last: boolean; generation: number } {
    const generation = Atomics.load(this.ctl, CTL.generation);
    const last = Atomics.add(this.ctl, CTL.arrived, 1) === this.layout.replicas - 1;
    if (last) {
      Atomics.store(this.ctl, CTL.arrived, 0);
      Atomics.add(this.ctl, CTL.generation, 1);
      Atomics.notify(this.ctl, CTL.generation);
    }
    return { last, generation };
  }

  /** A barrier for replica threads, which may block; throws when the run failed or shut down meanwhile. */
  barrierSync(): void {
    const { last, generation } = this.arrive();
    if (last) return;
    while (Atomics.load(this.ctl, CTL.generation) === generation) {
      this.assertRunning();
      Atomics.wait(this.ctl, CTL.generation, generation, 1000);
    }
  }

  /** The same barrier for the loop's thread, which must not block: its event loop hears a replica fail. */
  async barrier(): Promise<void> {
    const { last, generation } = this.arrive();
    if (last) return;
    while (Atomics.load(this.ctl, CTL.generation) === generation) {
      this.assertRunning();
      const w = waitAsync(this.ctl, CTL.generation, generation, 1000);
      if (w.async) await w.value;
    }
  }

  assertRunning(): void {
    const s = Atomics.load(this.ctl, CTL.state);
    if (s !== STATE.ok) throw new ReplicaStopped(s === STATE.failed ? 'failed' : 'shutdown');
  }

  /** Replica 0 starts a command on every replica. */
  start(command: number): void {
    Atomics.store(this.ctl, CTL.command, command);
    Atomics.add(this.ctl, CTL.seq, 1);
    Atomics.notify(this.ctl, CTL.seq);
  }

  /** Stops every replica at its next wait: the run failed (a replica posts why) or is over. */
  halt(state: number): void {
    Atomics.store(this.ctl, CTL.state, state);
    Atomics.notify(this.ctl, CTL.seq);
    Atomics.notify(this.ctl, CTL.generation);
  }

  /**
   * The sum of a step's slots weighted by `weights`, into `out` (each replica's own). It runs in replica order,
   * so every replica gets the same bits: their optimizers take identical steps.
   */
  reduce(parity: number, weights: number[], out: Float32Array): void {
    const slots = this.slots[parity];
    const n = this.layout.gradSize;
    const s0 = slots[0];
    const w0 = weights[0];
    if (slots.length === 2) {
      // Two replicas (a 2-core machine): one pass instead of two.
      const [s1, w1] = [slots[1], weights[1]];
      for (let i = 0; i < n; i++) out[i] = s0[i] * w0 + s1[i] * w1;
      return;
    }
    for (let i = 0; i < n; i++) out[i] = s0[i] * w0;
    for (let r = 1; r < slots.length; r++) {
      const s = slots[r];
      const w = weights[r];
      for (let i = 0; i < n; i++) out[i] += s[i] * w;
    }
  }
}

/** A replica stopped waiting because the run failed elsewhere or was shut down. */
export class ReplicaStopped extends Error {
  constructor(readonly why: 'failed' | 'shutdown') {
    super(`data-parallel replicas ${why === 'failed' ? 'failed' : 'were shut down'}`);
  }
}

/** Rows [start, end) of a batch of `rows` that replica `rank` of `replicas` works on. */
export function shardRows(rows: number, replicas: number, rank: number): { start: number; end: number } {
  return { start: Math.floor((rank * rows) / replicas), end: Math.floor(((rank + 1) * rows) / replicas) };
}

/** Each replica's share of the batch's tokens: the weights of the gradient average (equal rows, equal tokens). */
export function shardWeights(rows: number, replicas: number): number[] {
  return Array.from({ length: replicas }, (_, r) => {
    const { start, end } = shardRows(rows, replicas, r);
    return (end - start) / rows;
  });
}

type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/** Atomics.waitAsync (Node ≥ 16); ES2022's lib does not declare it yet. */
const waitAsync: WaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
