import * as path from 'node:path';
import type { Command } from 'commander';
import { acquireFolderLock, inspectOutFolder } from '../core/checkpoint';
import { exportModel, importModel } from '../core/interop';
import { Output } from './output';

export interface ExportCliOptions {
  model: string;
  out: string;
  corpus?: string | false;
  json?: boolean;
}

export interface ImportCliOptions {
  from: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

/** `gpt-lab export`: a model version as Hugging Face GPT-2 weights, its tokenizer and the corpus as .bin files. */
export async function exportCommand(o: ExportCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const r = await exportModel({
    modelDir: o.model,
    outDir: o.out,
    corpusDir: typeof o.corpus === 'string' ? o.corpus : undefined,
    corpus: o.corpus !== false,
    onLog: (m) => out.info(m),
  });
  out.info(`exported step ${r.step} of ${path.resolve(o.model)} to ${r.outDir}: ${r.files.join(', ')}`);
  if (!r.hfCompatible) {
    out.info(
      `note: ${r.incompatible.join(', ')} — scale/train_ddp.py trains it; Hugging Face's GPT2LMHeadModel cannot load it`,
    );
  }
  if (r.corpus) {
    out.info('train it on N GPUs (see scale/README.md):');
    out.info(
      `  torchrun --standalone --nproc_per_node=N scale/train_ddp.py --data ${r.outDir} --out ${r.outDir}-trained`,
    );
    out.info(`then: gpt-lab import --from ${r.outDir}-trained --out <models folder>/torch-1`);
  }
  out.event('done', { ...r });
}

/** `gpt-lab import`: a GPT Lab export (trained further or not) or a GPT-2 checkpoint into a model version. */
export async function importCommand(o: ImportCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const outDir = path.resolve(o.out);
  await inspectOutFolder(outDir); // someone's own folder is refused before the lock is written into it
  const lock = acquireFolderLock(outDir, { purpose: 'gpt-lab import', onLog: (m) => out.info(m) });
  try {
    const r = await importModel({ fromDir: o.from, outDir, force: o.force, onLog: (m) => out.info(m) });
    const c = r.config;
    out.info(
      `imported ${r.kind === 'gpt2' ? 'a GPT-2 checkpoint' : 'a GPT Lab export'} (${c.nLayer} layers × ${c.nEmbd}, ` +
        `${c.nHead} heads, context ${c.contextLength}, ${c.vocabSize} tokens) into ${r.outDir}`,
    );
    out.event('done', { outDir: r.outDir, kind: r.kind, config: r.config, step: r.step, notes: r.notes });
  } finally {
    lock.release();
  }
}

export function addInteropCommands(program: Command): void {
  program
    .command('export')
    .description('write a model for PyTorch: Hugging Face GPT-2 weights, tokenizer, corpus as train.bin/val.bin')
    .requiredOption('--model <dir>', 'model folder (version) to export')
    .requiredOption('--out <dir>', 'new or empty folder (or an earlier export, replaced)')
    .option('--corpus <dir>', 'folder to tokenize (default: the one the model trained on)')
    .option('--no-corpus', 'weights and tokenizer only')
    .option('--json', 'JSON on stdout')
    .action((opts) => exportCommand(opts));

  program
    .command('import')
    .description('a GPT Lab export (e.g. trained by scale/train_ddp.py) or a GPT-2 checkpoint into a model version')
    .requiredOption('--from <dir>', 'folder with config.json, model.safetensors and a tokenizer')
    .requiredOption('--out <dir>', 'the new model version')
    .option('--force', 'replace the model already in --out')
    .option('--json', 'JSON on stdout')
    .action((opts) => importCommand(opts));
}
