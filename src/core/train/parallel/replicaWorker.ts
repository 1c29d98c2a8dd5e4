/**
 * A data-parallel replica: a worker thread with its own tfjs backend, model and optimizer. It waits on the shared
 * buffer for commands from replica 0 (the training loop's thread) and answers through it; see replicaStep.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, setWasmDirectory } from '../../backend';
import { adoptKernelModules } from '../../kernels/precompiled';
import { GPT } from '../../model/gpt';
import type { Batch } from '../data';
import { buildOptimizer } from '../loop';
import { pretrainLoss } from '../pretrainTask';
import { GradientLayout } from './gradients';
import type { ReplicaInit, ReplicaMessage } from './messages';
import { StepMarks } from './profile';
import { replicaStep } from './replicaStep';
import { COMMAND, CTL, ReplicaStopped, SharedStep, shardRows, STATE } from './shared';
import { warmUp } from './warmup';

const init = workerData as ReplicaInit;
const post = (m: ReplicaMessage) => parentPort!.postMessage(m);

async function main(): Promise<void> {
  // Bundled (dist/replicaWorker.js), the .wasm files sit next to this file; unbundled, tfjs finds its own.
  if (existsSync(path.join(__dirname, 'tfjs-backend-wasm.wasm'))) setWasmDirectory(__dirname);
  adoptKernelModules(init.kernelModules);
  await initBackend(init.backend);
  const shared = new SharedStep(init.buffer, init.layout);
  const model = new GPT(init.model, init.weights, { heads: init.heads });
  const layout = new GradientLayout(model.params);
  if (layout.signature() !== init.signature) throw new Error('the replica built a model of another shape');
  const opt = buildOptimizer(model.params, init.train);
  opt.loadState(init.optimizerState, init.optimizerStep);
  const loss = (b: Batch) => pretrainLoss(model, b, init.train.dropout);
  const steps = init.layout.profileSteps ?? 0;
  const marks = shared.profile && new StepMarks(shared.profile, init.rank, steps);
  const ctx = { rank: init.rank, shared, layout, opt, loss, reduced: new Float32Array(layout.size), marks };
  if (init.warmup) {
    const { start, end } = shardRows(init.train.batchSize, init.layout.replicas, init.rank);
    warmUp(loss, end - start, init.model.contextLength);
  }
  let seen = Atomics.load(shared.ctl, CTL.seq);
  post({ type: 'ready' });
  for (;;) {
    while (Atomics.load(shared.ctl, CTL.seq) === seen) {
      shared.assertRunning();
      Atomics.wait(shared.ctl, CTL.seq, seen, 1000);
    }
    seen = Atomics.load(shared.ctl, CTL.seq);
    switch (shared.ctl[CTL.command]) {
      case COMMAND.step:
        marks?.begin();
        await replicaStep(ctx, () => shared.barrierSync());
        break;
      case COMMAND.snapshot:
        post({ type: 'snapshot', weights: model.weights(), optimizerStep: opt.t });
        break;
      case COMMAND.shutdown:
        return;
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof ReplicaStopped) process.exit(0);
    const message = err instanceof Error ? err.message : String(err);
    post({ type: 'failed', message });
    // Wake replica 0 and the others: the step cannot complete without this replica.
    if (init.buffer) new SharedStep(init.buffer, init.layout).halt(STATE.failed);
  },
);
