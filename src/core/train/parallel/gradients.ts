import * as tf from '@tensorflow/tfjs-core';
import { floatView, tensorCopiesValues } from '../../kernels';

/** Where each trainable parameter's gradient sits in a flat slot; the same on every replica (same model, same order). */
export class GradientLayout {
  readonly entries: { name: string; offset: number; size: number }[] = [];
  readonly size: number;

  constructor(private readonly params: Map<string, tf.Variable>) {
    let offset = 0;
    for (const [name, p] of params) {
      this.entries.push({ name, offset, size: p.size });
      offset += p.size;
    }
    this.size = offset;
  }

  /** Names and sizes, to check that two replicas agree before they share gradients. */
  signature(): string {
    return this.entries.map((e) => `${e.name}:${e.size}`).join(',');
  }

  /**
   * Copies `grads` (keyed by variable name, as tf.variableGrads gives them) into `slot`; a parameter without a
   * gradient gets zeros and is left out of the averaged gradients too (it is the same on every replica).
   */
  write(grads: tf.NamedTensorMap, slot: Float32Array): Set<string> {
    const present = new Set<string>();
    for (const e of this.entries) {
      const g = grads[this.params.get(e.name)!.name];
      if (g) {
        slot.set(floatView(g), e.offset); // straight from the wasm heap: one copy, not two
        present.add(e.name);
      } else slot.fill(0, e.offset, e.offset + e.size);
    }
    return present;
  }

  /** The averaged gradients as tensors keyed by variable name (copied: the shared buffer changes next step). */
  read(reduced: Float32Array, present: Set<string>): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    const copies = tensorCopiesValues();
    for (const e of this.entries) {
      if (!present.has(e.name)) continue;
      const p = this.params.get(e.name)!;
      const values = copies
        ? reduced.subarray(e.offset, e.offset + e.size)
        : reduced.slice(e.offset, e.offset + e.size);
      out[p.name] = tf.tensor(values, p.shape);
    }
    return out;
  }
}
