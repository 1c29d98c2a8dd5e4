/** How the CLI talks: a redrawn progress line on a terminal, plain lines in a pipe, JSON lines with --json. */
export class Output {
  private lastLine = 0;
  private drawn = false;

  constructor(
    readonly json: boolean,
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {}

  /** A human message (stderr, so stdout stays clean for results). */
  info(message: string): void {
    if (this.json) return;
    this.clear();
    process.stderr.write(message + '\n');
  }

  /** A machine record (stdout, one JSON object per line). */
  event(kind: string, data: object): void {
    if (this.json) process.stdout.write(JSON.stringify({ event: kind, ...data }) + '\n');
  }

  /** A progress bar on a terminal; otherwise a plain line at most every `everyMs`. */
  progress(fraction: number, text: string, everyMs = 5000): void {
    if (this.json) return;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      process.stderr.write(`\r${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${text}\x1b[K`);
      this.drawn = true;
    } else if (Date.now() - this.lastLine >= everyMs) {
      this.lastLine = Date.now();
      process.stderr.write(`${(fraction * 100).toFixed(0)}% ${text}\n`);
    }
  }

  clear(): void {
    if (this.drawn) process.stderr.write('\r\x1b[K');
    this.drawn = false;
  }

  /** The result (stdout). */
  result(text: string): void {
    this.clear();
    process.stdout.write(text + (text.endsWith('\n') ? '' : '\n'));
  }
}

// Durations and rates read as they do in the extension: one formatter, in src/protocol.
export { duration as formatDuration, tokensPerSecond as formatRate } from '../protocol/format';
