// `npm run bench`: the engine's speed and memory as JSON (the code is the CLI's `gpt-lab bench`, src/cli/bench.ts).
import { runBenchmarks } from '../src/cli/bench';

const args = process.argv.slice(2);
runBenchmarks({ quick: args.includes('--quick'), peer: args.includes('--peer') }).catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
