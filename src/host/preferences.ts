import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  appendPreferences,
  deletePreference,
  Preference,
  PreferenceLine,
  readPreferenceLines,
  readPreferences,
} from '../core/data/preferences';

/**
 * The workspace's preference pairs: `<storage>/preferences.jsonl` (TRL's {"prompt", "chosen", "rejected"} per
 * line, with the ranking each came from). Counts for the view; appends are crash-safe line by line.
 */
export class PreferenceStore implements vscode.Disposable {
  readonly file: string;
  /** Valid pairs, distinct prompts, and lines skipped as malformed. */
  counts = { pairs: 0, prompts: 0, problems: 0 };
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    storageDir: string,
    private readonly log: (line: string) => void,
  ) {
    this.file = path.join(storageDir, 'preferences.jsonl');
  }

  async read(): Promise<Awaited<ReturnType<typeof readPreferences>>> {
    return readPreferences(this.file);
  }

  async recount(): Promise<void> {
    try {
      const { records, problems } = await this.read();
      this.counts = {
        pairs: records.length,
        prompts: new Set(records.map((r) => r.prompt)).size,
        problems: problems.length,
      };
    } catch (err) {
      this.log(`${this.file} cannot be read: ${(err as Error).message}`);
      this.counts = { pairs: 0, prompts: 0, problems: 0 };
    }
    this.changed.fire();
  }

  /** Appends and deletes of this window, one at a time (a delete rewrites the file). */
  private queue: Promise<unknown> = Promise.resolve();
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async append(pairs: Preference[]): Promise<void> {
    await this.serial(() => appendPreferences(this.file, pairs));
    await this.recount();
  }

  /** Every valid pair with its line number, for picking one to delete. */
  lines(): Promise<PreferenceLine[]> {
    return readPreferenceLines(this.file);
  }

  /** Deletes one pair (its line rewritten away atomically); false if it is no longer in the file. */
  async delete(target: PreferenceLine): Promise<boolean> {
    const done = await this.serial(() => deletePreference(this.file, target));
    await this.recount();
    return done;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
