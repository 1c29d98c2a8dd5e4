import { acquireFolderLock } from '../core/checkpoint/lock';
import type { SavedCompletionEval } from '../core/complete/modelEval';
import { GptLabError } from '../core/errors';
import type { TrainHooks } from '../core/train/loop';
import type { WorkerEvent } from '../protocol/worker';

export type Emit = (event: WorkerEvent['event'], data: WorkerEvent['data']) => void;

/**
 * One kind of training run (pre-training, fine-tuning, alignment) as a worker job: one at a time, the model
 * folder it writes locked meanwhile (another window or the CLI cannot write it), a Stop that takes effect at
 * the next step boundary, and the loop's progress streamed to the host as events.
 */
export class WorkerJob {
  private active = false;
  private stopRequested = false;

  /** `busy`: what a second run is told while one is in progress. */
  constructor(private readonly busy: string) {}

  get running(): boolean {
    return this.active;
  }

  /** True once Stop was asked during the current run. */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Runs `work` with `dir` locked for `purpose`; BUSY while a run of this job is in progress, LOCKED (naming
   *  who holds it) when another window or process writes the folder. */
  async run<T>(dir: string, purpose: string, emit: Emit, work: (hooks: TrainHooks) => Promise<T>): Promise<T> {
    if (this.active) throw new GptLabError(this.busy, 'BUSY');
    const lock = acquireFolderLock(dir, { purpose, onLog: (message) => emit('log', { message }) });
    this.active = true;
    this.stopRequested = false;
    try {
      return await work(this.hooks(emit));
    } finally {
      lock.release();
      this.active = false;
    }
  }

  /** Asks the running job to stop at the next step boundary and save; false when none runs. */
  stop(): boolean {
    if (!this.active) return false;
    this.stopRequested = true;
    return true;
  }

  private hooks(emit: Emit): TrainHooks {
    let lastProgress = 0;
    return {
      shouldStop: () => this.stopRequested,
      onLog: (message) => emit('log', { message }),
      onEval: (e) => emit('eval', e),
      onCheckpoint: (step) => emit('checkpoint', { step }),
      onProgress: (pr) => {
        // At most ~10 progress messages a second: the host only redraws.
        const now = Date.now();
        if (now - lastProgress >= 100 || pr.fraction >= 1) {
          lastProgress = now;
          emit('progress', pr);
        }
      },
    };
  }
}

/** The log line of the held-out completion check (or its failure), the same after every stage. */
export function logCompletions(
  emit: Emit,
  { completions: ev, completionsError }: { completions?: SavedCompletionEval; completionsError?: Error },
): void {
  if (ev) {
    const message = `completions: ${(ev.exactMatch * 100).toFixed(1)}% exact rest-of-line, ${(ev.charsSaved * 100).toFixed(1)}% of characters saved (${ev.positions} positions, ${ev.mode})`;
    emit('log', { message });
  }
  if (completionsError) emit('log', { message: `completion evaluation failed: ${completionsError.message}` });
}
