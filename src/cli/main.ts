import { Command, Option } from 'commander';
import { BACKEND_NAMES } from '../core/backend';
import { GptLabError } from '../core/errors';
import { PRESETS } from '../core/model/config';
import { evalCommand } from './eval';
import { sampleCommand } from './sample';
import { trainCommand } from './train';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function backendOption(): Option {
  return new Option('--backend <name>', 'tfjs backend').choices(['auto', ...BACKEND_NAMES]).default('auto');
}

export function buildProgram(): Command {
  const program = new Command('gpt-lab')
    .description('Train, probe and sample a small GPT on a folder of source code, locally.')
    .showHelpAfterError();

  program
    .command('train')
    .description('train a BPE tokenizer and a GPT on the files of DIR')
    .argument('[dir]', 'folder of source code', '.')
    .option(
      '--preset <name>',
      `model size: ${Object.values(PRESETS)
        .map((p) => p.name)
        .join(', ')}`,
      'tiny',
    )
    .option('--minutes <n>', 'time budget in minutes (default 2 unless --steps)')
    .option('--steps <n>', 'budget in optimizer steps (reproducible with --seed)')
    .option('--out <dir>', 'model folder (default DIR/.gpt-lab/model)')
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--seed <n>', 'random seed')
    .option('--include <glob>', 'only files matching (gitignore syntax; repeatable)', collect)
    .option('--exclude <glob>', 'skip files matching (replaces the defaults; repeatable)', collect)
    .option('--max-file-kb <n>', 'skip files larger than this')
    .option('--layers <n>', 'custom size: transformer blocks')
    .option('--heads <n>', 'custom size: attention heads')
    .option('--embd <n>', 'custom size: embedding width')
    .option('--context <n>', 'custom size: context length in tokens')
    .option('--vocab <n>', 'custom size: vocabulary (BPE) size')
    .option('--batch <n>', 'sequences per step')
    .option('--lr <n>', 'peak learning rate')
    .option('--fim <rate>', 'share of documents trained as fill-in-the-middle (0..1)')
    .addOption(backendOption())
    .option('--json', 'JSON lines on stdout')
    .action((dir, opts) => trainCommand(dir, opts));

  program
    .command('sample')
    .description('generate text from a trained model')
    .requiredOption('--model <dir>', 'model folder')
    .option('--prompt <text>', 'text to continue', '')
    .option('--max-tokens <n>', 'most new tokens', '100')
    .option('--temperature <t>', '0 = greedy', '0.8')
    .option('--top-k <k>', 'sample among the k most likely tokens')
    .option('--top-p <p>', 'nucleus sampling')
    .option('--seed <n>', 'random seed', '0')
    .option('--stop <text>', 'stop sequence (repeatable)', collect)
    .addOption(backendOption())
    .option('--json', 'JSON on stdout')
    .action((opts) => sampleCommand(opts));

  program
    .command('eval')
    .description('validation loss and bits per byte of a trained model')
    .requiredOption('--model <dir>', 'model folder')
    .option('--data <dir>', 'folder to evaluate on (default: the held-out files of the training folder)')
    .addOption(backendOption())
    .option('--json', 'JSON on stdout')
    .action((opts) => evalCommand(opts));

  program
    .command('bench')
    .description('measure training and generation speed (JSON on stdout)')
    .option('--quick', 'fewer steps')
    .option('--peer', 'also run the PyTorch peer if python3 with torch is installed')
    .addOption(backendOption())
    .action(async (opts) => {
      const { runBenchmarks } = await import('../../bench/run.js');
      await runBenchmarks(opts);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof GptLabError) {
      process.stderr.write(`gpt-lab: ${err.message}\n`);
      if (argv.includes('--json'))
        process.stdout.write(JSON.stringify({ event: 'error', code: err.code, message: err.message }) + '\n');
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
