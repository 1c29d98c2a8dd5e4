import type * as tf from '@tensorflow/tfjs-core';
import { DecodeInstance } from '../kernels/decodeModule';
import type { ResolvedGPTConfig } from '../model/config';
import type { GPT } from '../model/gpt';
import { rotaryTables, sinusoids } from '../model/ops';
import type { DecodeEngine } from './decoder';

/** decode.c's Model record: 14 words, then 14 per layer. */
const MODEL_WORDS = 14;
const LAYER_WORDS = 14;
const LAYER_PARTS = ['ln_1', 'attn.c_attn', 'attn.c_proj', 'ln_2', 'mlp.c_fc', 'mlp.c_proj'];
const FLAGS = { qkNorm: 1, rotary: 2, relu2: 4, valueResidual: 8, embedShortcut: 16 };

/**
 * A model's weights in a decoder instance's memory, shared by every decoder of that model (a Generator per
 * completion, generateBatch per ranking), copied once and again only when the weights change.
 */
class DecodeWeights {
  readonly wasm = new DecodeInstance();
  /** Where the Model record is. */
  readonly at: number;
  /** Bumped by every copy: a decoder made before the last copy has a stale cache. */
  generation = 0;
  private versions: [tf.Variable, object][] = [];
  private readonly slots: { name: string; word: number; ptr: number; size: number }[] = [];
  private readonly head: number;

  constructor(
    private readonly model: GPT,
    private readonly c: ResolvedGPTConfig,
  ) {
    const { nEmbd: C, nLayer: L, nHead: H, contextLength: ctx, vocabSize: V } = c;
    const hs = C / H;
    let words = 0;
    const place = (size: number) => {
      const at = words;
      words += (size + 3) & ~3; // each tensor 16-byte aligned
      return at;
    };
    const modelWords = MODEL_WORDS + LAYER_WORDS * L;
    const recordAt = place(modelWords);
    const slot = (name: string, word: number) => {
      const size = model.params.get(name)?.size;
      if (size === undefined) throw new Error(`no parameter ${name}`);
      this.slots.push({ name, word, ptr: place(size), size });
    };
    slot('wte.weight', 7);
    if (c.positionEncoding === 'learned') slot('wpe.weight', 8);
    for (let l = 0; l < L; l++) {
      LAYER_PARTS.forEach((p, i) => {
        slot(`h.${l}.${p}.weight`, MODEL_WORDS + l * LAYER_WORDS + 2 * i);
        if (c.bias) slot(`h.${l}.${p}.bias`, MODEL_WORDS + l * LAYER_WORDS + 2 * i + 1);
      });
      if (l > 0 && c.embedShortcut) slot(`h.${l}.x0_mix`, MODEL_WORDS + l * LAYER_WORDS + 12);
      if (l > 0 && c.valueResidual) slot(`h.${l}.attn.v_mix`, MODEL_WORDS + l * LAYER_WORDS + 13);
    }
    slot('ln_f.weight', 11);
    if (c.bias) slot('ln_f.bias', 12);
    if (c.untiedHead) slot('lm_head.weight', 13);
    const headAt = c.untiedHead ? -1 : place(C * V); // wteᵀ [C, V]: the head reads [in, out] like the rest
    const sinAt = c.positionEncoding === 'sinusoidal' ? place(ctx * C) : -1;
    const rotAt = c.positionEncoding === 'rotary' ? [place(ctx * hs), place(ctx * hs)] : undefined;

    const base = this.wasm.alloc(words * 4);
    const ptr = (word: number) => base + word * 4;
    this.at = ptr(recordAt);
    for (const s of this.slots) s.ptr = ptr(s.ptr);
    const rec = this.wasm.i32(this.at, modelWords);
    rec.fill(0); // absent parts (biases, positions, mixes) are null pointers
    rec.set([
      C,
      L,
      H,
      ctx,
      V,
      (c.qkNorm ? FLAGS.qkNorm : 0) |
        (rotAt ? FLAGS.rotary : 0) |
        (c.mlp === 'relu2' ? FLAGS.relu2 : 0) |
        (c.valueResidual ? FLAGS.valueResidual : 0) |
        (c.embedShortcut ? FLAGS.embedShortcut : 0),
    ]);
    this.wasm.f32(this.at + 6 * 4, 1)[0] = c.logitSoftCap;
    for (const s of this.slots) rec[s.word] = s.ptr;
    this.head = c.untiedHead ? 0 : ptr(headAt);
    if (!c.untiedHead) rec[13] = this.head;
    if (sinAt >= 0) {
      rec[8] = ptr(sinAt);
      this.wasm.f32(ptr(sinAt), ctx * C).set(sinusoids(ctx, C));
    }
    if (rotAt) {
      const r = rotaryTables(ctx, hs);
      [rec[9], rec[10]] = rotAt.map(ptr);
      this.wasm.f32(ptr(rotAt[0]), ctx * hs).set(r.cos);
      this.wasm.f32(ptr(rotAt[1]), ctx * hs).set(r.sin);
    }
    this.copy();
  }

  /** Whether the copy is of the model's weights now (an optimizer's assign gives a variable a new dataId). */
  fresh(): boolean {
    return this.versions.every(([v, id]) => (v as unknown as { dataId: object }).dataId === id);
  }

  /** Copies every weight in (again); the tied head as wteᵀ. */
  copy(): void {
    this.versions = [];
    for (const s of this.slots) {
      const v = this.model.params.get(s.name) as tf.Variable;
      this.versions.push([v, (v as unknown as { dataId: object }).dataId]);
      this.wasm.f32(s.ptr, s.size).set(v.dataSync() as Float32Array);
    }
    if (!this.c.untiedHead) {
      const { nEmbd: C, vocabSize: V } = this.c;
      const wte = this.wasm.f32(this.slots[0].ptr, V * C);
      const head = this.wasm.f32(this.head, C * V);
      for (let v = 0; v < V; v++) for (let i = 0; i < C; i++) head[i * V + v] = wte[v * C + i];
    }
    this.generation++;
  }

  private static readonly byModel = new WeakMap<GPT, DecodeWeights>();

  /** The model's weights in a decoder instance, copied anew if they changed since. */
  static of(model: GPT, c: ResolvedGPTConfig): DecodeWeights {
    let w = DecodeWeights.byModel.get(model);
    if (!w) DecodeWeights.byModel.set(model, (w = new DecodeWeights(model, c)));
    else if (!w.fresh()) w.copy();
    return w;
  }
}

/** The wasm engine of CachedDecoder: a whole decode step in one call of decode.c's decode_step. */
export class WasmDecodeEngine implements DecodeEngine {
  private readonly w: DecodeWeights;
  private readonly generation: number;
  /** Keys and values [L, rows, H, ctx, hs] each. */
  private readonly kc: number;
  private readonly vc: number;
  /** The step's inputs, scratch and logits, for up to `capacity` tokens. */
  private io = 0;
  private capacity = 0;

  constructor(
    model: GPT,
    private readonly c: ResolvedGPTConfig,
    private readonly rows: number,
  ) {
    this.w = DecodeWeights.of(model, c);
    this.generation = this.w.generation;
    const bytes = c.nLayer * rows * c.contextLength * c.nEmbd * 4;
    this.kc = this.w.wasm.alloc(bytes);
    this.vc = this.w.wasm.alloc(bytes);
  }

  current(): boolean {
    return this.w.fresh() && this.w.generation === this.generation;
  }

  run(ids: number[], rowOf: number[], posOf: number[], lastOf: number[]): Float32Array {
    const V = this.c.vocabSize;
    const N = ids.length;
    const wasm = this.w.wasm;
    if (N > this.capacity) {
      if (this.io) wasm.free(this.io);
      this.capacity = Math.max(N, 2 * this.capacity);
      this.io = wasm.alloc(this.ioWords(this.capacity) * 4);
    }
    // [ids, rowOf, posOf, lastOf: N each] [logits: N × V] [scratch: 12·N·C + ctx]
    const ints = this.io;
    const logits = ints + 16 * Math.ceil((4 * N * 4) / 16);
    const scratch = logits + 16 * Math.ceil((lastOf.length * V * 4) / 16);
    const io = wasm.i32(ints, 4 * N);
    io.set(ids, 0);
    io.set(rowOf, N);
    io.set(posOf, 2 * N);
    io.set(lastOf, 3 * N);
    wasm.fn.decode_step(
      this.w.at,
      this.kc,
      this.vc,
      this.rows,
      ints,
      ints + 4 * N,
      ints + 8 * N,
      N,
      ints + 12 * N,
      lastOf.length,
      logits,
      scratch,
    );
    return wasm.f32(logits, lastOf.length * V).slice();
  }

  private ioWords(n: number): number {
    const { nEmbd: C, contextLength: ctx, vocabSize: V } = this.c;
    return 4 * n + 4 + n * V + 4 + 12 * n * C + ctx + 4;
  }

  dispose(): void {
    const wasm = this.w.wasm;
    [this.kc, this.vc, this.io].forEach((p) => p && wasm.free(p));
    this.io = 0;
  }
}
