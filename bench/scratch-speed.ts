import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/core/backend';
import { GPT } from '../src/core/model/gpt';
import { crossEntropy } from '../src/core/model/ops';
import { AdamW } from '../src/core/train/adamw';
async function main() {
  const cfgName = process.argv[2] ?? 'B';
  const be = await initBackend((process.argv[3] as any) ?? 'wasm');
  const c = cfgName === 'A' ? { vocabSize: 512, contextLength: 64, nEmbd: 64, nLayer: 2, nHead: 4, positionEncoding: 'learned' as const }
    : { vocabSize: 2048, contextLength: 128, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' as const };
  const B = 16, T = c.contextLength;
  const m = GPT.create(c, 1);
  const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const ids = new Int32Array(B * (T + 1)); for (let i = 0; i < ids.length; i++) ids[i] = (i * 7919) % c.vocabSize;
  const times: number[] = [];
  for (let s = 0; s < 8; s++) {
    const t0 = performance.now();
    const x = tf.tensor2d(ids.slice(0, B * T), [B, T], 'int32'); const y = tf.tensor1d(ids.slice(B, B + B * T), 'int32');
    const { value, grads } = tf.variableGrads(() => { const { logits } = m.forward(x); return crossEntropy(tf.reshape(logits, [B * T, c.vocabSize]) as tf.Tensor2D, y); });
    const n = opt.step(grads, 1e-3, 1.0);
    const lv = value.dataSync()[0];
    tf.dispose([value, n, x, y]); tf.dispose(Object.values(grads));
    const dt = performance.now() - t0; if (s >= 2) times.push(dt);
    console.log(s, lv.toFixed(4), dt.toFixed(0), 'ms', tf.memory().numTensors);
  }
  times.sort((a, b) => a - b); const med = times[times.length >> 1];
  console.log(be.name, 'tok/s', Math.round(B * T / med * 1000));
}
main();
