import * as path from 'node:path';
import * as vscode from 'vscode';
import { readExamples } from '../core/data/examples';
import { ModelInfo, readModelInfo } from '../core/model/info';
import type { TrainConfig } from '../core/train/config';
import type { EvalResult, TrainProgress, TrainResult } from '../core/train/trainer';
import type { AlignOutcome, AlignParams, CorpusPayload, FinetuneParams, FinetuneOutcome } from '../protocol/worker';
import { config } from './config';
import { log } from './log';
import { VersionStore } from './versions';
import { PreferenceStore } from './preferences';
import { WorkerClient, WorkerError } from './workerClient';

export type LabState = 'idle' | 'training' | 'stopping';

/**
 * What GPT Lab knows and owns in this window: the worker, the model folder, whether a run is going on and how it
 * is doing. Views (status bar, tree, panels) listen to `onDidChange`; commands call its methods.
 */
export class Lab implements vscode.Disposable {
  /** Trains. */
  readonly worker: WorkerClient;
  /** Serves completions (and later the inspector panels) from the newest checkpoint, even while training runs. */
  readonly inference: WorkerClient;
  /** The workspace's GPT Lab storage: models/, examples.jsonl, candidates.jsonl. */
  readonly storageDir: string;
  readonly versions: VersionStore;
  /** Stage 3's preference pairs (preferences.jsonl) and their counts. */
  readonly preferences: PreferenceStore;
  /** The folder the running job writes (a pre-training version or the new fine-tuned one). */
  runDir: string | undefined;
  state: LabState = 'idle';
  info: ModelInfo | null = null;
  progress: TrainProgress | undefined;
  lastEval: EvalResult | undefined;
  backend: string | undefined;
  lastCorpus: CorpusPayload['summary'] | undefined;
  /** Lines in examples.jsonl and candidates.jsonl (valid ones), and the lines skipped in them. */
  exampleCounts = { examples: 0, candidates: 0, problems: 0 };
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(readonly context: vscode.ExtensionContext) {
    const storage = context.storageUri ?? context.globalStorageUri;
    this.storageDir = storage.fsPath;
    this.versions = new VersionStore(this.storageDir, context.workspaceState, log);
    this.worker = new WorkerClient(
      path.join(context.extensionPath, 'dist', 'worker.js'),
      () => ({ GPT_LAB_BACKEND: config.backend(), GPT_LAB_REPLICAS: String(config.replicas()) }),
      log,
    );
    this.inference = new WorkerClient(
      path.join(context.extensionPath, 'dist', 'worker.js'),
      () => ({ GPT_LAB_BACKEND: config.backend() }),
      (line) => log(`[inference] ${line}`),
    );
    this.preferences = new PreferenceStore(this.storageDir, log);
    this.disposables.push(
      this.preferences,
      this.preferences.onDidChange(() => this.changed.fire()),
    );
    this.disposables.push(this.worker, this.inference, this.changed);
    this.disposables.push(
      this.worker.onEvent((e) => {
        if (e.event === 'progress') this.progress = e.data;
        else if (e.event === 'eval') this.lastEval = e.data;
        else if (e.event === 'log') log(e.data.message);
        this.changed.fire();
      }),
    );
  }

  get training(): boolean {
    return this.state !== 'idle';
  }

  /** The active version's folder: it serves completions, the inspector and the stepper. */
  get modelDir(): string {
    return this.versions.activeDir;
  }

  get examplesFile(): string {
    return path.join(this.storageDir, 'examples.jsonl');
  }

  /** Accepted completions, waiting to be promoted to examples. */
  get candidatesFile(): string {
    return path.join(this.storageDir, 'candidates.jsonl');
  }

  /** Counts the examples and candidates again (after a write, or when the user saved one of the files). */
  async recountExamples(): Promise<void> {
    const count = (file: string) =>
      readExamples(file).catch((err: Error) => {
        log(`${file} cannot be read: ${err.message}`);
        return { records: [], problems: [] };
      });
    const [e, c] = await Promise.all([count(this.examplesFile), count(this.candidatesFile)]);
    this.exampleCounts = {
      examples: e.records.length,
      candidates: c.records.length,
      problems: e.problems.length + c.problems.length,
    };
    this.changed.fire();
  }

  async refresh(): Promise<void> {
    await this.recountExamples();
    await this.preferences.recount();
    try {
      await this.versions.refresh();
    } catch (err) {
      log(`model versions cannot be listed: ${(err as Error).message}`);
    }
    try {
      this.info = await readModelInfo(this.modelDir, this.backend);
    } catch (err) {
      this.info = null;
      log(`model folder ${this.modelDir} cannot be read: ${(err as Error).message}`);
    }
    await this.updateContext();
    this.changed.fire();
  }

  private async updateContext(): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'gptLab.modelReady', this.info !== null);
    await vscode.commands.executeCommand('setContext', 'gptLab.training', this.training);
  }

  private async setState(s: LabState): Promise<void> {
    this.state = s;
    await this.updateContext();
    this.changed.fire();
  }

  /** Runs a training job in the worker; resolves with its result (also after a Stop), rejects on failure. */
  async train(corpus: CorpusPayload, cfg: TrainConfig, resume: boolean): Promise<TrainResult> {
    if (this.training) throw new WorkerError('GPT Lab is already training. Stop it first.', 'BUSY');
    this.progress = undefined;
    this.lastEval = undefined;
    this.lastCorpus = corpus.summary;
    // Pre-training writes the active pre-training version (or the one the active version descends from).
    const target = this.versions.pretrainTarget();
    const modelDir = this.versions.dirOf(target);
    this.runDir = modelDir;
    await this.setState('training');
    try {
      const hello = await this.worker.request('hello', {});
      this.backend = hello.backend;
      log(
        `training ${resume ? '(resume) ' : ''}${cfg.preset ?? 'custom'} on ${corpus.files.length} files with ${hello.backend} (worker pid ${hello.pid}) into the version "${target}"`,
      );
      const result = await this.worker.request('train', { corpus, config: cfg, modelDir, resume });
      await this.versions.setActive(target);
      return result;
    } finally {
      this.runDir = undefined;
      await this.setState('idle');
      await this.refresh();
    }
  }

  /**
   * Stage 2 in the worker: fine-tunes `params.parentDir` into `params.outDir` (the new version `name`); when it
   * ends on its budget, the new version becomes active. Resolves with its result (also after a Stop), rejects on failure.
   */
  async finetune(params: FinetuneParams, name: string): Promise<FinetuneOutcome> {
    if (this.training) throw new WorkerError('GPT Lab is already training. Stop it first.', 'BUSY');
    this.progress = undefined;
    this.lastEval = undefined;
    this.runDir = params.outDir;
    await this.setState('training');
    try {
      const hello = await this.worker.request('hello', {});
      this.backend = hello.backend;
      log(
        `fine-tuning ${path.basename(params.parentDir)} into "${name}" on ${params.examples.length} examples with ${hello.backend} (worker pid ${hello.pid})`,
      );
      const result = await this.worker.request('finetune', params);
      // A stopped run is saved as a version too, but only a finished one takes over completions.
      if (result.stopped === 'budget') await this.versions.setActive(name);
      return result;
    } finally {
      this.runDir = undefined;
      await this.setState('idle');
      await this.refresh();
    }
  }

  /**
   * Stage 3 in the worker: a reward model, DPO or PPO from `params.parentDir` into the new version `name`. A
   * finished DPO or PPO version takes over completions; a reward model never does (it scores, it does not write).
   */
  async align(params: AlignParams, name: string): Promise<AlignOutcome> {
    if (this.training) throw new WorkerError('GPT Lab is already training. Stop it first.', 'BUSY');
    this.progress = undefined;
    this.lastEval = undefined;
    this.runDir = params.outDir;
    await this.setState('training');
    try {
      const hello = await this.worker.request('hello', {});
      this.backend = hello.backend;
      log(
        `${params.kind}: ${path.basename(params.parentDir)} → "${name}" with ${hello.backend} (worker pid ${hello.pid})`,
      );
      const result = await this.worker.request('align', params);
      if (result.stopped === 'budget' && params.kind !== 'reward') await this.versions.setActive(name);
      return result;
    } finally {
      this.runDir = undefined;
      await this.setState('idle');
      await this.refresh();
    }
  }

  /** Makes a version serve completions, the inspector and the stepper. */
  async useVersion(name: string): Promise<void> {
    await this.versions.setActive(name);
    await this.refresh();
  }

  async stop(): Promise<boolean> {
    if (!this.training) return false;
    await this.setState('stopping');
    const r = await this.worker.request('stop', {});
    return r.stopping;
  }

  /** Deletes the active version (see deleteVersion). */
  async deleteModel(): Promise<void> {
    await this.deleteVersion(this.versions.active);
  }

  /**
   * The worker owns the model folders: it removes everything a run wrote in the version's folder (not only the
   * checkpoint). When it was the active one, its parent (else the base, else the newest) becomes active.
   */
  async deleteVersion(name: string): Promise<void> {
    const v = this.versions.get(name);
    const wasActive = this.versions.active === name;
    await this.worker.request('deleteModel', { modelDir: v?.dir ?? this.versions.dirOf(name) });
    await this.refresh();
    if (wasActive) {
      const parent = v && this.versions.parentOf(v);
      await this.useVersion(parent?.name ?? this.versions.active);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
