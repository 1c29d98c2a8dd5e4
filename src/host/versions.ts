import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { checkpointExists, lockOwner } from '../core/checkpoint';
import { GptLabError } from '../core/errors';
import { checkVersionName, listVersions, readVersion, VersionInfo } from '../core/versions';

const ACTIVE_KEY = 'gptLab.activeVersion';
const ALIASES_KEY = 'gptLab.versionAliases';
/** The pre-training version Train on Workspace writes when nothing else is chosen. */
export const BASE_VERSION = 'base';

/**
 * The model versions of a workspace: `<storage>/models/<name>/` (`base`, `sft-1`, …), which one is active (it
 * serves completions, the inspector and the stepper; remembered in workspaceState), and the old single-folder
 * layout (`<storage>/model/`), which is moved into `models/base` when nothing holds it, else read in place.
 * Plain file operations only: no tensors.
 */
export class VersionStore {
  readonly root: string;
  /** The folder of the layout before versions. */
  readonly legacyDir: string;
  list: VersionInfo[] = [];
  problems: string[] = [];
  private legacyInPlace = false;

  constructor(
    storageDir: string,
    private readonly state: vscode.Memento,
    private readonly log: (line: string) => void,
  ) {
    this.root = path.join(storageDir, 'models');
    this.legacyDir = path.join(storageDir, 'model');
  }

  /** The version the user chose (it may not exist yet: `base` before the first training). */
  get active(): string {
    const chosen = this.state.get<string>(ACTIVE_KEY);
    if (chosen && this.list.some((v) => v.name === chosen)) return chosen;
    // The chosen one is gone (deleted in another window): the base if there is one, else the newest.
    if (this.list.length === 0 || this.list.some((v) => v.name === BASE_VERSION)) return BASE_VERSION;
    return this.list[this.list.length - 1].name;
  }

  async setActive(name: string): Promise<void> {
    await this.state.update(ACTIVE_KEY, name);
  }

  /** A version's folder (`base` may still be the old layout's folder, read in place). */
  dirOf(name: string): string {
    if (name === BASE_VERSION && this.legacyInPlace) return this.legacyDir;
    return path.join(this.root, name);
  }

  get activeDir(): string {
    return this.dirOf(this.active);
  }

  get(name: string | undefined): VersionInfo | undefined {
    return name === undefined ? undefined : this.list.find((v) => v.name === name);
  }

  /** A version's parent as it is called now (renames followed), if it still exists. */
  parentOf(v: VersionInfo): VersionInfo | undefined {
    return this.get(this.currentName(v.parent));
  }

  /** The name a version recorded as its parent, followed through later renames. */
  currentName(name: string | undefined): string | undefined {
    const aliases = this.state.get<Record<string, string>>(ALIASES_KEY) ?? {};
    for (let i = 0; name !== undefined && aliases[name] !== undefined && i < 32; i++) name = aliases[name];
    return name;
  }

  /**
   * Where Train on Workspace writes: the active version if it is a pre-training one, else the pre-training
   * version it descends from, else `base`.
   */
  pretrainTarget(): string {
    let v = this.get(this.active);
    for (let i = 0; v && i < 32; i++) {
      if (v.stage === 'pretrain') return v.name;
      v = this.parentOf(v);
    }
    return BASE_VERSION;
  }

  /** Re-reads the versions (moving the old layout into `models/base` first when it can). */
  async refresh(): Promise<void> {
    await this.migrate();
    const { versions, problems } = await listVersions(this.root);
    if (this.legacyInPlace) {
      try {
        versions.unshift({ ...(await readVersion(this.legacyDir)), name: BASE_VERSION });
      } catch (err) {
        problems.push(`${this.legacyDir}: ${(err as Error).message}`);
      }
    }
    this.list = versions;
    this.problems = problems;
    for (const p of problems) this.log(`model version skipped: ${p}`);
  }

  /**
   * The layout before versions kept one model in `<storage>/model`. It becomes the version `base`: renamed into
   * `models/base` when no process holds its lock (a window of an older GPT Lab may be training into it), else
   * read where it is until it is free.
   */
  private async migrate(): Promise<void> {
    this.legacyInPlace = false;
    if (!checkpointExists(this.legacyDir)) return;
    const base = path.join(this.root, BASE_VERSION);
    if (existsSync(base)) {
      this.log(`both ${this.legacyDir} and ${base} exist: the old folder is left alone`);
      return;
    }
    const owner = lockOwner(this.legacyDir);
    if (owner) {
      this.log(`${this.legacyDir} is in use by process ${owner.pid}: read in place as the version "base"`);
      this.legacyInPlace = true;
      return;
    }
    try {
      await fs.mkdir(this.root, { recursive: true });
      await fs.rename(this.legacyDir, base);
      this.log(`moved the model folder ${this.legacyDir} to ${base} (the version "base")`);
    } catch (err) {
      this.log(`could not move ${this.legacyDir} to ${base} (${(err as Error).message}): read in place`);
      this.legacyInPlace = true;
    }
  }

  /** Renames a version's folder; the active choice and its children's parent name follow. */
  async rename(from: string, to: string): Promise<string> {
    const name = checkVersionName(to);
    const v = this.get(from);
    if (!v) throw new GptLabError(`There is no version "${from}".`, 'NO_VERSION');
    if (name === from) return name;
    if (existsSync(path.join(this.root, name)) || this.get(name)) {
      throw new GptLabError(`A version named "${name}" already exists: choose another name.`, 'VERSION_EXISTS');
    }
    const owner = lockOwner(v.dir);
    if (owner) {
      throw new GptLabError(
        `"${from}" is in use by process ${owner.pid}${owner.purpose ? ` (${owner.purpose})` : ''}: rename it when that is done.`,
        'LOCKED',
      );
    }
    await fs.mkdir(this.root, { recursive: true });
    await fs.rename(v.dir, path.join(this.root, name));
    const wasActive = this.active === from;
    const aliases = { ...(this.state.get<Record<string, string>>(ALIASES_KEY) ?? {}), [from]: name };
    delete aliases[name]; // a new version may take an old name again
    await this.state.update(ALIASES_KEY, aliases);
    if (wasActive) await this.setActive(name);
    await this.refresh();
    return name;
  }

  /** Versions whose recorded parent is `name`. */
  children(name: string): VersionInfo[] {
    return this.list.filter((v) => this.currentName(v.parent) === name);
  }
}
