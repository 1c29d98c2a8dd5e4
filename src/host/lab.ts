import * as path from 'node:path';
import * as vscode from 'vscode';
import { ModelInfo, readModelInfo } from '../core/model/info';
import type { TrainConfig } from '../core/train/config';
import type { EvalResult, TrainProgress, TrainResult } from '../core/train/trainer';
import type { CorpusPayload } from '../protocol/worker';
import { config } from './config';
import { log } from './log';
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
  readonly modelDir: string;
  state: LabState = 'idle';
  info: ModelInfo | null = null;
  progress: TrainProgress | undefined;
  lastEval: EvalResult | undefined;
  backend: string | undefined;
  lastCorpus: CorpusPayload['summary'] | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(readonly context: vscode.ExtensionContext) {
    const storage = context.storageUri ?? context.globalStorageUri;
    this.modelDir = path.join(storage.fsPath, 'model');
    this.worker = new WorkerClient(
      path.join(context.extensionPath, 'dist', 'worker.js'),
      () => ({ GPT_LAB_BACKEND: config.backend() }),
      log,
    );
    this.inference = new WorkerClient(
      path.join(context.extensionPath, 'dist', 'worker.js'),
      () => ({ GPT_LAB_BACKEND: config.backend() }),
      (line) => log(`[inference] ${line}`),
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

  async refresh(): Promise<void> {
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
    await this.setState('training');
    try {
      const hello = await this.worker.request('hello', {});
      this.backend = hello.backend;
      log(
        `training ${resume ? '(resume) ' : ''}${cfg.preset ?? 'custom'} on ${corpus.files.length} files with ${hello.backend} (worker pid ${hello.pid})`,
      );
      return await this.worker.request('train', { corpus, config: cfg, modelDir: this.modelDir, resume });
    } finally {
      await this.setState('idle');
      await this.refresh();
    }
  }

  async stop(): Promise<boolean> {
    if (!this.training) return false;
    await this.setState('stopping');
    const r = await this.worker.request('stop', {});
    return r.stopping;
  }

  /** The worker owns the model folder: it removes everything a run wrote there (not only the checkpoint). */
  async deleteModel(): Promise<void> {
    await this.worker.request('deleteModel', { modelDir: this.modelDir });
    await this.refresh();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
