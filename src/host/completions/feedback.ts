import * as path from 'node:path';
import { appendLineSafe } from '../../core/checkpoint';
import { appendExample } from '../../core/data/examples';

/** A completion the user saw, with the prompt the model saw: the text before the cursor and after it. */
export interface ShownCompletion {
  id: number;
  /** The text before the cursor (its last PROMPT_CHARS characters). */
  prompt: string;
  /** The text after the cursor (its first SUFFIX_CHARS characters). */
  suffix: string;
  completion: string;
  languageId: string;
  modelStep: number;
  /** Where it was shown: the document and the cursor's offset in it. */
  uri: string;
  offset: number;
}

/** More than any preset's context holds, so a candidate keeps all the model saw. */
export const PROMPT_CHARS = 4000;
export const SUFFIX_CHARS = 2000;

/** The part of a document the feedback needs to tell whether a suggestion was typed through. */
export interface DocumentText {
  uri: string;
  /** The text between two offsets. */
  textBetween(start: number, end: number): string;
}

/**
 * Records shown suggestions in `completions.jsonl` (accepted or passed over) and turns accepted ones into
 * candidate examples in `candidates.jsonl` (TRL prompt–completion lines with the suffix the model saw), with
 * crash-safe appends. A suggestion counts as accepted when Tab takes it or when the user types it through; as
 * passed over when the next one is requested without that.
 */
export class CompletionFeedback {
  private pending: ShownCompletion | undefined;
  private nextId = 1;

  constructor(
    private readonly dir: string,
    /** Called after a candidate was written. */
    private readonly onCandidate: () => void = () => undefined,
  ) {}

  get file(): string {
    return path.join(this.dir, 'completions.jsonl');
  }

  get candidatesFile(): string {
    return path.join(this.dir, 'candidates.jsonl');
  }

  /**
   * A suggestion is shown. When it is the rest of the pending one (the user typed its beginning), the pending one
   * stays and is returned: it is one suggestion, accepted or not as a whole.
   */
  shown(c: Omit<ShownCompletion, 'id'>): ShownCompletion {
    const p = this.pending;
    if (p && p.uri === c.uri && c.offset >= p.offset) {
      const typed = c.offset - p.offset;
      if (typed <= p.completion.length && p.completion.slice(typed) === c.completion) return p;
    }
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

  /** After an edit: the pending suggestion was typed through when the document now holds it at its cursor. */
  async documentChanged(doc: DocumentText): Promise<void> {
    const p = this.pending;
    if (!p || p.uri !== doc.uri) return;
    const before = p.prompt.slice(-200);
    if (
      doc.textBetween(p.offset, p.offset + p.completion.length) === p.completion &&
      doc.textBetween(p.offset - before.length, p.offset) === before
    ) {
      await this.accepted(p.id);
    }
  }

  /** The shown suggestion, if any, was passed over. */
  async settle(): Promise<void> {
    const c = this.pending;
    this.pending = undefined;
    if (c) await this.write(c, false);
  }

  private async write(c: ShownCompletion, accepted: boolean): Promise<void> {
    const record = {
      prompt: c.prompt.slice(-2000),
      completion: c.completion,
      accepted,
      language: c.languageId,
      modelStep: c.modelStep,
      time: new Date().toISOString(),
    };
    try {
      await appendLineSafe(this.file, JSON.stringify(record));
      if (accepted) {
        await appendExample(this.candidatesFile, {
          prompt: c.prompt,
          completion: c.completion,
          suffix: c.suffix,
          source: 'accepted',
        });
        this.onCandidate();
      }
    } catch {
      // feedback is best-effort: never disturb typing
    }
  }
}
