/**
 * `gpt-lab bench --backend webgpu`'s measurements in the child process. tfjs-webgpu cannot read a tensor
 * synchronously in Node, so training reads each step's loss with `await data()` (trainStepAsync), generation each
 * step's logits (generateAsync: gpt.ts's KV cache at batch 1; generateBatchAsync: each step recomputes the rows),
 * and the matmul waits for its result the same way; the rest of each measurement is benchChild.ts's.
 */
import type { ChildSpec } from './benchChild';
import { matmul, measureGeneration, measureTraining } from './benchChild';
import { generateAsync, generateBatchAsync } from '../core/sample';
import { trainStepAsync } from '../core/train/trainer';

type Json = Record<string, unknown>;

export async function benchOnWebGpu(spec: ChildSpec): Promise<Json> {
  // One thread: a GPU backend has no data-parallel replicas.
  if (spec.kind === 'train') {
    return measureTraining(spec, async (m, opt) => ({
      replicas: 1,
      step: (b) => trainStepAsync(m, opt, b, 1e-3, 1),
      dispose: async () => undefined,
    }));
  }
  if (spec.kind === 'gen') return measureGeneration(spec, { one: generateAsync, batch: generateBatchAsync });
  return matmul(spec.n, (c) => c.data());
}
