/**
 * A max-heap of (count, pairKey) entries: the top has the highest count, ties go to the lowest key (the
 * lowest left id, then the lowest right id), which makes training deterministic. Entries are never updated
 * in place: the trainer pushes a fresh entry whenever a count changes and skips stale ones when popping.
 */
export class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  peekCount(): number {
    return this.counts[0];
  }

  peekKey(): number {
    return this.keys[0];
  }

  push(count: number, key: number): void {
    const { counts, keys } = this;
    let i = counts.length;
    counts.push(count);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(count, key, counts[parent], keys[parent])) break;
      counts[i] = counts[parent];
      keys[i] = keys[parent];
      i = parent;
    }
    counts[i] = count;
    keys[i] = key;
  }

  pop(): void {
    const { counts, keys } = this;
    const lastCount = counts.pop() as number;
    const lastKey = keys.pop() as number;
    const n = counts.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(counts[child + 1], keys[child + 1], counts[child], keys[child])) child++;
      if (!this.before(counts[child], keys[child], lastCount, lastKey)) break;
      counts[i] = counts[child];
      keys[i] = keys[child];
      i = child;
    }
    counts[i] = lastCount;
    keys[i] = lastKey;
  }

  /** Whether entry (c1, k1) belongs above entry (c2, k2). */
  private before(c1: number, k1: number, c2: number, k2: number): boolean {
    return c1 > c2 || (c1 === c2 && k1 < k2);
  }
}
