import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { deleteCheckpoint } from '../core/checkpoint';
import { COMPLETION_EVAL_FILE } from '../core/complete/modelEval';

/**
 * Files a run writes beside the checkpoint that core's deleteCheckpoint does not know about (it removes the
 * checkpoint, history.jsonl and temporaries). Left behind, the next model would start with their figures.
 */
export const RUN_ARTEFACTS = [COMPLETION_EVAL_FILE];

/**
 * Removes everything GPT Lab wrote in a model folder, then the folder if nothing else is in it; a user's own
 * files stay. Missing folder: no-op. The checkpoint goes first, so an interrupted clear leaves no model rather
 * than a model described by another model's figures.
 */
export async function clearModelFolder(dir: string): Promise<void> {
  await deleteCheckpoint(dir); // leaves the folder while the artefacts are still in it
  for (const name of RUN_ARTEFACTS) await fs.rm(path.join(dir, name), { force: true });
  await fs.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
  });
}
