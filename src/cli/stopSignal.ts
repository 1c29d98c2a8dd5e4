import type { Output } from './output';

export interface StopSignal {
  /** Ctrl+C (or SIGTERM) came once: stop at the next step boundary and save. */
  readonly requested: boolean;
  /** Takes the handlers off again (the command is over). */
  dispose(): void;
}

/**
 * How every training command (`train`, `finetune`, `reward`, `dpo`, `ppo`) answers Ctrl+C: once, it stops after
 * the step in progress and saves a checkpoint; twice, it quits at once (exit 130; the folder lock goes with the
 * process). SIGTERM counts as Ctrl+C.
 */
export function stopOnSignal(out: Pick<Output, 'info'>): StopSignal {
  let requested = false;
  const onSignal = () => {
    if (requested) process.exit(130);
    requested = true;
    out.info('stopping after this step and saving a checkpoint… (Ctrl+C again to quit now)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get requested() {
      return requested;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
