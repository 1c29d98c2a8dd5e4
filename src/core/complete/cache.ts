/** Characters of context that key an entry: edits further away rarely change the completion. */
export const CACHE_PREFIX_CHARS = 2000;
export const CACHE_SUFFIX_CHARS = 500;

interface Entry {
  /** The keyed prefix tail and suffix head. */
  prefix: string;
  suffix: string;
  /** Length of the whole prefix when stored: typing through adds exactly the typed characters to it. */
  prefixLength: number;
  completion: string;
}

/** Recent completions by cursor context, least recently used first out (a Map keeps insertion order). */
export class CompletionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly maxSize = 200) {}

  get size(): number {
    return this.entries.size;
  }

  get(prefix: string, suffix: string): string | undefined {
    const key = keyOf(prefix, suffix);
    const e = this.entries.get(key);
    if (e) this.touch(key, e);
    return e?.completion;
  }

  set(prefix: string, suffix: string, completion: string): void {
    const key = keyOf(prefix, suffix);
    this.entries.delete(key);
    this.entries.set(key, { prefix: tail(prefix), suffix: head(suffix), prefixLength: prefix.length, completion });
    while (this.entries.size > this.maxSize) this.entries.delete(this.entries.keys().next().value as string);
  }

  /**
   * An exact hit, or "typing through": the user typed the start of an earlier completion, so what is left of it
   * still fits without a new request. Undefined when nothing of it is left.
   */
  reuse(prefix: string, suffix: string): string | undefined {
    const exact = this.get(prefix, suffix);
    if (exact !== undefined) return exact;
    const suffixHead = head(suffix);
    let found: [string, Entry, string] | undefined;
    // The newest matching entry wins (Map order is oldest first).
    for (const [key, e] of this.entries) {
      const typedLength = prefix.length - e.prefixLength;
      if (typedLength <= 0 || typedLength >= e.completion.length || e.suffix !== suffixHead) continue;
      // What was typed must be the completion's start (so a newline only passes where the completion has one),
      // and what came before it must be the stored prefix.
      const end = prefix.length - typedLength;
      if (!e.completion.startsWith(prefix.slice(end))) continue;
      if (prefix.slice(Math.max(0, end - CACHE_PREFIX_CHARS), end) !== e.prefix) continue;
      found = [key, e, e.completion.slice(typedLength)];
    }
    if (!found) return undefined;
    this.touch(found[0], found[1]);
    return found[2];
  }

  clear(): void {
    this.entries.clear();
  }

  private touch(key: string, e: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, e);
  }
}

function tail(prefix: string): string {
  return prefix.slice(-CACHE_PREFIX_CHARS);
}

function head(suffix: string): string {
  return suffix.slice(0, CACHE_SUFFIX_CHARS);
}

/** The length makes the key unambiguous where prefix and suffix meet. */
function keyOf(prefix: string, suffix: string): string {
  const p = tail(prefix);
  return `${p.length}:${p}${head(suffix)}`;
}
