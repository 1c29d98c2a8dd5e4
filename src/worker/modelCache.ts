/**
 * The model the inference requests share, reloaded when training saves a newer checkpoint. A model that a
 * request still uses (a completion between two tokens) is disposed only when its last user is done: the swap
 * never pulls tensors out from under a running generation.
 */
export interface Disposable {
  dispose(): void;
}

interface Entry<M> {
  key: string;
  model: M;
  /** Requests using it now. */
  users: number;
}

export class ModelCache<M extends Disposable> {
  private current: Entry<M> | undefined;
  /** Lookups run one at a time, so two requests never load the same checkpoint twice or swap each other's. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    /** What identifies the checkpoint now in `dir` (throws when there is none). */
    private readonly stampOf: (dir: string) => Promise<string>,
    private readonly load: (dir: string) => Promise<M>,
  ) {}

  /** Runs `f` with the newest model of `dir`, which stays alive until `f` settles. */
  async use<T>(dir: string, f: (model: M) => Promise<T> | T): Promise<T> {
    const entry = await this.acquire(dir);
    try {
      return await f(entry.model);
    } finally {
      this.release(entry);
    }
  }

  /** Lets the model go (disposed now, or when its last user finishes). */
  dispose(): void {
    const old = this.current;
    this.current = undefined;
    if (old && old.users === 0) old.model.dispose();
  }

  private acquire(dir: string): Promise<Entry<M>> {
    const next = this.queue.then(() => this.acquireNow(dir));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async acquireNow(dir: string): Promise<Entry<M>> {
    let stamp: string;
    try {
      stamp = await this.stampOf(dir);
    } catch (err) {
      // The model was deleted or never trained: do not keep its tensors around.
      if (this.current && this.current.key.startsWith(dir + '\n')) this.dispose();
      throw err;
    }
    const key = `${dir}\n${stamp}`;
    if (this.current?.key !== key) {
      const model = await this.load(dir);
      this.dispose();
      this.current = { key, model, users: 0 };
    }
    this.current.users++;
    return this.current;
  }

  private release(entry: Entry<M>): void {
    entry.users--;
    if (entry.users === 0 && entry !== this.current) entry.model.dispose();
  }
}
