export async function runBenchmarks(opts: Record<string, unknown>): Promise<void> {
  void opts;
  throw new Error('not yet');
}
