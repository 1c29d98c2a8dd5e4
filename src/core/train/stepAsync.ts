import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../model/gpt';
import { AdamW } from './adamw';
import { Batch } from './data';

/**
 * One optimizer step of next-token loss, as trainer.ts's trainStep, but reading the loss and gradient norm with
 * `await data()`: the webgpu backend cannot read a tensor synchronously in Node. Disposes all it makes.
 */
export async function trainStepAsync(
  model: GPT,
  opt: AdamW,
  batch: Batch,
  lr: number,
  clip: number,
): Promise<{ loss: number; gradNorm: number }> {
  const x = tf.tensor2d(batch.x, [batch.B, batch.T], 'int32');
  const y = tf.tensor2d(batch.y, [batch.B, batch.T], 'int32');
  const { value, grads } = tf.variableGrads(() => model.loss(x, y));
  const norm = opt.step(grads, lr, clip);
  const [loss, gradNorm] = await Promise.all([value.data(), norm.data()]);
  tf.dispose([x, y, value, norm, ...Object.values(grads)]);
  return { loss: loss[0], gradNorm: gradNorm[0] };
}
