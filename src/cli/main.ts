import { Command, CommanderError, Option } from 'commander';
import { BACKEND_NAMES } from '../core/backend';
import { GptLabError, storageError } from '../core/errors';
import { PRESETS } from '../core/model/config';
import { evalCommand } from './eval';
import { addExperimentCommand } from './experiment';
import { addAlignCommands } from './align';
import { finetuneCommand } from './finetune';
import { addInteropCommands } from './interop';
import { MAX_SAMPLE_TOKENS, sampleCommand } from './sample';
import { trainCommand } from './train';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function backendOption(): Option {
  return new Option('--backend <name>', 'tfjs backend').choices(['auto', ...BACKEND_NAMES]).default('auto');
}

export function buildProgram(): Command {
  const program = new Command('gpt-lab')
    .description('Train, probe and sample a small GPT on a folder of source code, locally.')
    .showHelpAfterError()
    // Errors reach main() (so --json ends in an error event, and tests can run the CLI in-process).
    .exitOverride();

  program
    .command('train')
    .description('train a BPE tokenizer and a GPT on the files of DIR')
    .argument('[dir]', 'folder of source code', '.')
    .option(
      '--preset <name>',
      `model size: ${Object.values(PRESETS)
        .map((p) => p.name)
        .join(', ')}, or auto (sized for the corpus and the minutes) (default tiny)`,
    )
    .option(
      '--arch <name>',
      "architecture: modern (rotary, QK-norm, ReLU², untied head, WSD schedule; the default) or gpt2 (GPT-2's recipe; its export loads as Hugging Face GPT2LMHeadModel)",
    )
    .option(
      '--minutes <n>',
      'time budget in minutes (default 2 unless --steps); with --resume, minutes MORE (without a budget, a resumed run finishes the budget it was started with)',
    )
    .option('--steps <n>', 'budget in optimizer steps (reproducible with --seed); with --resume, steps MORE')
    .option(
      '--max-passes <n>',
      'stop after n passes over the training tokens, whatever the minutes (a small corpus is memorised beyond a few; auto: 8; 0 = no cap); with --resume, passes IN ALL',
    )
    .option('--out <dir>', 'model folder: new, empty or a GPT Lab model (default DIR/.gpt-lab/model)')
    .option(
      '--resume',
      'continue the model in --out: its size, batch, FIM rate and seed stay (giving them is an error); --lr and the budget apply',
    )
    .option('--force', 'replace the model already in --out with a new one (its history and evaluation go too)')
    .option('--seed <n>', 'random seed (integer ≥ 0)')
    .option('--include <glob>', 'only files matching (gitignore syntax; repeatable)', collect)
    .option('--exclude <glob>', 'skip files matching (replaces the defaults; repeatable)', collect)
    .option('--max-file-kb <n>', 'skip files larger than this')
    .option('--layers <n>', 'custom size: transformer blocks')
    .option('--heads <n>', 'custom size: attention heads')
    .option('--embd <n>', 'custom size: embedding width')
    .option('--context <n>', 'custom size: context length in tokens')
    .option('--vocab <n>', 'custom size: vocabulary (BPE) size')
    .option('--batch <n>', 'sequences per step')
    .option('--lr <n>', 'peak learning rate (with --resume: the rate from here on)')
    .option('--fim <rate>', 'share of documents trained as fill-in-the-middle (0..1)')
    .option(
      '--dropout <p>',
      'pre-training dropout, 0..0.9 (default 0): pays on a small corpus trained for many passes (with --max-passes 0), hurts under one pass',
    )
    .option('--no-completions', 'skip the check of completions on held-out files after training (seconds)')
    .option(
      '--replicas <n>',
      'data parallelism: n worker threads, each training on its share of every batch (default auto: one per core when the model is large enough, kept only if a few timed steps show them faster; 1 = one thread)',
    )
    .addOption(backendOption())
    .option('--json', 'JSON lines on stdout')
    .action((dir, opts) => trainCommand(dir, opts));

  program
    .command('sample')
    .description('generate text from a trained model')
    .requiredOption('--model <dir>', 'model folder')
    .option('--prompt <text>', 'text to continue (default: none)')
    .option('--prompt-file <path>', "read the prompt from a file ('-' for stdin)")
    .option('--max-tokens <n>', `most new tokens (1..${MAX_SAMPLE_TOKENS}); printed as they come`, '100')
    .option('--temperature <t>', '0 = greedy, higher = more varied (≥ 0)', '0.8')
    .option('--top-k <k>', 'sample among the k most likely tokens (≥ 1)')
    .option('--top-p <p>', 'nucleus sampling: the most likely tokens up to this probability (0 < p ≤ 1)')
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
    .command('finetune')
    .description('supervised fine-tuning (Stage 2): a new version of --model trained on prompt → completion examples')
    .requiredOption('--model <dir>', 'the version to fine-tune (left as it is)')
    .requiredOption('--data <file>', 'examples as JSONL: {"prompt": …, "completion": …} per line (TRL format)')
    .option('--out <dir>', 'the new version (default: sft-N beside --model)')
    .option('--minutes <n>', 'time budget in minutes (default 1 unless --steps); with --resume, minutes MORE')
    .option('--steps <n>', 'budget in optimizer steps; with --resume, steps MORE')
    .option('--lr <n>', "peak learning rate (default 0.3 × the parent's)")
    .option('--batch <n>', 'examples per step (default 8)')
    .option('--seed <n>', 'random seed (integer ≥ 0)')
    .option('--corpus <dir>', 'mix in pre-training windows of this folder, so the model keeps the code')
    .option('--mix <share>', 'share of batch rows from --corpus (0..1, default 0.2)')
    .option('--resume', 'continue the fine-tuning in --out (without a budget: finish its own)')
    .option('--force', 'replace the model already in --out')
    .addOption(backendOption())
    .option('--json', 'JSON lines on stdout')
    .action((opts) => finetuneCommand(opts));

  addAlignCommands(program, backendOption);
  addExperimentCommand(program, backendOption);
  addInteropCommands(program);

  program
    .command('bench')
    .description('measure training and generation speed (JSON on stdout)')
    .option('--quick', 'fewer steps')
    .option('--peer', 'also run the PyTorch peer if python3 with torch is installed')
    .addOption(backendOption())
    .action(async (opts) => {
      const { runBenchmarks } = await import('./bench.js');
      await runBenchmarks(opts);
    });
  return program;
}

/** Runs the CLI. Every failure sets a non-zero exit code and, under --json, ends in an `error` event with a code. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      if (err.exitCode === 0) return;
      const message = err.code === 'commander.help' ? 'no command given' : err.message.replace(/^error: /, '');
      fail(argv, 'BAD_OPTION', message, false);
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof GptLabError) {
      fail(argv, err.code, err.message);
      return;
    }
    // A full disk or a read-only folder anywhere else (an evaluation file, a cleared folder): said as such.
    const storage = storageError(err, 'a write');
    if (storage) {
      fail(argv, storage.code, storage.message);
      return;
    }
    // A bug or an unforeseen failure: still one line a user can report, and the event a script expects.
    const message = err instanceof Error ? err.message : String(err);
    fail(argv, 'INTERNAL', `internal error: ${message}`);
    if (process.env.GPT_LAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
}

function fail(argv: string[], code: string, message: string, print = true): void {
  if (print) process.stderr.write(`gpt-lab: ${message}\n`);
  if (argv.includes('--json')) process.stdout.write(JSON.stringify({ event: 'error', code, message }) + '\n');
  process.exitCode = 1;
}
