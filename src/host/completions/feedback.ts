import * as path from 'node:path';
import { appendLineSafe } from '../../core/checkpoint';

/** A completion the user saw, kept locally as future fine-tuning data ({prompt, completion} like TRL's SFT format). */
export interface ShownCompletion {
  id: number;
  prompt: string;
  completion: string;
  languageId: string;
  modelStep: number;
}

/**
 * Records accepted and rejected suggestions in `completions.jsonl` next to the model (crash-safe appends).
 * A suggestion counts as rejected when the next one is requested without it having been accepted.
 */
export class CompletionFeedback {
  private pending: ShownCompletion | undefined;
  private nextId = 1;

  constructor(private readonly dir: string) {}

  get file(): string {
    return path.join(this.dir, 'completions.jsonl');
  }

  shown(c: Omit<ShownCompletion, 'id'>): ShownCompletion {
    void this.settle();
    this.pending = { ...c, id: this.nextId++ };
    return this.pending;
  }

  async accepted(id: number): Promise<void> {
    if (this.pending?.id !== id) return;
    const c = this.pending;
    this.pending = undefined;
    await this.write(c, true);
  }

  /** The shown suggestion, if any, was passed over. */
  async settle(): Promise<void> {
    const c = this.pending;
    this.pending = undefined;
    if (c) await this.write(c, false);
  }

  private async write(c: ShownCompletion, accepted: boolean): Promise<void> {
    const record = {
      prompt: c.prompt,
      completion: c.completion,
      accepted,
      language: c.languageId,
      modelStep: c.modelStep,
      time: new Date().toISOString(),
    };
    try {
      await appendLineSafe(this.file, JSON.stringify(record));
    } catch {
      // feedback is best-effort: never disturb typing
    }
  }
}
