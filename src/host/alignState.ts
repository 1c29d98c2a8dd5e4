import { loadCheckpointConfig } from '../core/checkpoint';

/** Where an alignment run stands: its step, and whether it reached the budget it was given. */
export interface RunState {
  step: number;
  /** Share of its budget done, 0..1 (1: it finished). */
  fraction: number;
  targetSteps?: number;
}

export async function alignRunState(dir: string): Promise<RunState> {
  const { step, trainer } = await loadCheckpointConfig(dir);
  const target = (trainer.target ?? {}) as { steps?: number; ms?: number };
  const elapsed = typeof trainer.elapsedMs === 'number' ? trainer.elapsedMs : 0;
  const parts = [
    typeof target.steps === 'number' && target.steps > 0 ? step / target.steps : 0,
    typeof target.ms === 'number' && target.ms > 0 ? elapsed / target.ms : 0,
  ];
  return { step, fraction: Math.min(1, Math.max(...parts)), targetSteps: target.steps };
}
