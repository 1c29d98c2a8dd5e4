// `npm run bench [-- --peer] [--quick] [--rounds N] [--backend wasm|webgpu|…]`: the engine's speed and memory as
// JSON, optionally beside the PyTorch peer's (the code is the CLI's `gpt-lab bench`, src/cli/bench.ts).
import { runBenchmarks } from '../src/cli/bench';
import type { BackendPreference } from '../src/core/backend';

const args = process.argv.slice(2);
const at = args.indexOf('--rounds');
const backendAt = args.indexOf('--backend');
runBenchmarks({
  quick: args.includes('--quick'),
  peer: args.includes('--peer'),
  rounds: at >= 0 ? Number(args[at + 1]) : undefined,
  backend: backendAt >= 0 ? (args[backendAt + 1] as BackendPreference) : undefined,
}).catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
