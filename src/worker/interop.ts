/**
 * Export and import as worker jobs (the extension's "Export for a Cluster" and "Import a Trained Model"): the same
 * core/interop the CLI's `gpt-lab export` / `gpt-lab import` run, with progress lines streamed as `log` events.
 * Both read and write safetensors and JSON as plain arrays; only the imported version's completion check runs it.
 */
import { acquireFolderLock, inspectOutFolder } from '../core/checkpoint';
import { completionEvalPositions, evaluateModelCompletions } from '../core/complete/modelEval';
import { GptLabError } from '../core/errors';
import { exportModel, importModel } from '../core/interop';
import type {
  ExportModelParams,
  ExportModelResult,
  ImportModelParams,
  ImportModelResult,
  WorkerEvent,
} from '../protocol/worker';

type Emit = (event: WorkerEvent['event'], data: WorkerEvent['data']) => void;

/** The version in modelDir as an export in outDir (a new or empty folder, or an earlier export). */
export async function exportVersion(p: ExportModelParams, emit: Emit): Promise<ExportModelResult> {
  const onLog = (message: string) => emit('log', { message: `export: ${message}` });
  onLog(`${p.modelDir} → ${p.outDir}${p.corpus ? ` with ${p.corpus.files.length} workspace files` : ''}`);
  return exportModel({
    modelDir: p.modelDir,
    outDir: p.outDir,
    corpusFiles: p.corpus?.files,
    corpusRoot: p.corpus?.root,
    onLog,
  });
}

/**
 * An export (or a GPT-2 checkpoint) in fromDir as the new version in outDir. The folder is locked while it is
 * written (another window or the CLI cannot write it meanwhile); one that already holds a model is refused.
 */
export async function importVersion(p: ImportModelParams, emit: Emit): Promise<ImportModelResult> {
  const onLog = (message: string) => emit('log', { message: `import: ${message}` });
  const kind = await inspectOutFolder(p.outDir);
  if (kind === 'model') {
    throw new GptLabError(`${p.outDir} already holds a model: choose another name.`, 'MODEL_EXISTS');
  }
  const lock = acquireFolderLock(p.outDir, { purpose: 'GPT Lab import in a VS Code window', onLog });
  try {
    onLog(`${p.fromDir} → ${p.outDir}`);
    const r = await importModel({ fromDir: p.fromDir, outDir: p.outDir, onLog });
    // As after training: how it completes held-out workspace code, and in which prompt format (served at once).
    if (p.corpusFiles?.length) {
      onLog('evaluating completions on held-out files…');
      try {
        const ev = await evaluateModelCompletions(r.outDir, p.corpusFiles, completionEvalPositions(r.config));
        onLog(
          `completions: ${(ev.exactMatch * 100).toFixed(1)}% exact rest-of-line, ${(ev.charsSaved * 100).toFixed(1)}% of characters saved (${ev.positions} positions, ${ev.mode})`,
        );
      } catch (err) {
        onLog(`completion evaluation failed: ${(err as Error).message}`);
      }
    }
    // Not the GPT-2 id map: the version's own files hold everything the extension needs.
    return { outDir: r.outDir, kind: r.kind, config: r.config, step: r.step, notes: r.notes };
  } finally {
    lock.release();
  }
}
