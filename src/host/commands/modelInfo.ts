import * as vscode from 'vscode';
import type { ModelInfo } from '../../core/model/info';
import { compact, duration, megabytes } from '../format';
import type { Lab } from '../lab';

/** Model Info as a Markdown page, with the user's model beside a frontier model for a sense of scale. */
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function modelInfoMarkdown(i: ModelInfo, backend?: string): string {
  const langs = i.corpus?.languages.map((l) => `${l.language} ${megabytes(l.bytes)}`).join(', ') ?? '—';
  const val =
    i.valLoss !== undefined ? `${i.valLoss.toFixed(3)} nats/token (${i.valBpb?.toFixed(2)} bits per byte)` : '—';
  const initial = i.initialValLoss !== undefined ? ` — it started at ${i.initialValLoss.toFixed(3)}` : '';
  return `# GPT Lab model

| | |
|---|---|
| Preset | ${i.preset ?? 'custom'} |
| Parameters | ${compact(i.parameters)} (${i.parameters.toLocaleString('en-US')}) |
| Shape | ${i.layers} layers × ${i.embedding} wide, ${i.heads} attention heads, context ${i.context} tokens |
| Vocabulary | ${i.vocab} BPE tokens |
| Training | ${i.step} steps, ${compact(i.tokensSeen)} tokens seen, ${duration(i.trainingMs)} |
| Validation loss (lower is better) | ${val}${initial} |
${heldOutRow(i)}| Completions on held-out files | ${i.completions ? `${pct(i.completions.exactMatch)} of suggestions equal the real rest of the line; ${pct(i.completions.charsSaved)} of characters saved (${i.completions.positions} cursor positions; prompts ${i.completions.mode === 'fim' ? 'fill in the middle' : 'use the text before the cursor'}, which measured better)` : 'not measured yet'} |
| Corpus | ${i.corpus ? `${i.corpus.files} files, ${megabytes(i.corpus.bytes)}: ${langs}` : '—'} |
| Backend | ${backend ?? 'chosen when the worker starts'} |
| Saved | ${new Date(i.savedAt).toLocaleString()} in \`${i.modelDir}\` |
${historyRow(i)}
## Scale

| | your model | GPT-4 (reported) |
|---|---|---|
| Parameters | ${compact(i.parameters)} | ~1.8 trillion |
| Training text | ${compact(i.tokensSeen)} tokens | trillions of tokens |
| Training time | ${duration(i.trainingMs)} | months |
| Hardware | this computer | 10,000+ GPUs |

The architecture is the same idea — token embeddings, attention, feed-forward layers, next-token prediction — at a
scale you can train while you get a coffee.
`;
}

/** The final model on every held-out token (or evenly spaced segments), once a pre-training finished its budget. */
function heldOutRow(i: ModelInfo): string {
  const h = i.heldOut;
  if (!h) return '';
  const share = h.scoredTokens < h.totalTokens ? `${h.scoredTokens} of ${h.totalTokens}` : `all ${h.scoredTokens}`;
  return `| Held-out bits per byte (lower is better) | ${h.bitsPerByte.toFixed(3)} on ${share} held-out tokens, each predicted from at least ${h.minContext} tokens of context |\n`;
}

/** A row only when history.jsonl was damaged: the figures above come from the lines that were whole. */
function historyRow(i: ModelInfo): string {
  if (i.historyError) {
    return `| History | history.jsonl could not be read (${i.historyError}): the validation figures are missing. The model itself is not affected. |\n`;
  }
  if (!i.historySkipped) return '';
  const n = i.historySkipped === 1 ? '1 damaged line' : `${i.historySkipped} damaged lines`;
  return `| History | ${n} of history.jsonl skipped: the validation figures come from the other lines. The model itself is not affected. |\n`;
}

export async function showModelInfo(lab: Lab): Promise<void> {
  await lab.refresh();
  if (!lab.info) {
    const choice = await vscode.window.showInformationMessage('There is no model yet.', 'Train on Workspace');
    if (choice) await vscode.commands.executeCommand('gptLab.train');
    return;
  }
  const doc = await vscode.workspace.openTextDocument({
    language: 'markdown',
    content: modelInfoMarkdown(lab.info, lab.backend),
  });
  await vscode.commands.executeCommand('markdown.showPreview', doc.uri);
}
