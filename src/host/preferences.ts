import * as path from 'node:path';
import * as vscode from 'vscode';
import { appendPreferences, Preference, readPreferences } from '../core/data/preferences';

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

  async append(pairs: Preference[]): Promise<void> {
    await appendPreferences(this.file, pairs);
    await this.recount();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
