import * as vscode from 'vscode';
import { CompletionCache, extendsSelectedItem, trimCompletion, wantsMultiline } from '../../core/complete';
import type { Lab } from '../lab';
import { log } from '../log';
import { WorkerError } from '../workerClient';
import { completionsConfig } from './settings';
import { CompletionFeedback, PROMPT_CHARS, SUFFIX_CHARS } from './feedback';

const CONTEXT_LINES = 8;
/** GPT_LAB_TRACE=1 logs every completion decision to the output channel (for tests and bug reports). */
const trace = process.env.GPT_LAB_TRACE ? (m: string) => log(`completion: ${m}`) : () => undefined;

function sleep(ms: number, token: vscode.CancellationToken): Promise<boolean> {
  return new Promise((resolve) => {
    if (ms <= 0) return resolve(!token.isCancellationRequested);
    const t = setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
    const sub = token.onCancellationRequested(() => {
      clearTimeout(t);
      sub.dispose();
      resolve(false);
    });
  });
}

/** Ghost text from the workspace's own model: fill-in-the-middle at the cursor, trimmed like a careful human. */
export class GptLabCompletionProvider implements vscode.InlineCompletionItemProvider {
  readonly cache = new CompletionCache();
  /** Latency of the last answered request, for the status bar tooltip and tests. */
  lastLatencyMs: number | undefined;
  /** Requests the editor made (for tests). */
  requests = 0;
  /** Where the last suggestion was offered, while that document is unchanged: the hover offers to rank there. */
  private lastShown: ShownAt | undefined;

  constructor(
    private readonly lab: Lab,
    readonly feedback: CompletionFeedback,
  ) {
    lab.onDidChange(() => {
      // A new checkpoint writes different completions.
      if (lab.info?.savedAt !== this.modelStamp) {
        this.modelStamp = lab.info?.savedAt;
        this.cache.clear();
      }
    });
  }
  private modelStamp: string | undefined;

  enabledFor(languageId: string): boolean {
    const info = this.lab.info;
    if (!info || !completionsConfig.enabled()) return false;
    const langs = completionsConfig.languages();
    if (langs[languageId] !== undefined) return langs[languageId];
    const trainedOn = info.corpus?.languageIds ?? [];
    return (langs['*'] ?? true) && (trainedOn.length === 0 || trainedOn.includes(languageId));
  }

  async provideInlineCompletionItems(
    doc: vscode.TextDocument,
    pos: vscode.Position,
    ctx: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[]> {
    this.requests++;
    if (!this.enabledFor(doc.languageId)) {
      trace(`off for ${doc.languageId}`);
      return [];
    }
    const started = performance.now();
    const prefix = doc.getText(new vscode.Range(new vscode.Position(0, 0), pos));
    const suffix = doc.getText(new vscode.Range(pos, doc.lineAt(doc.lineCount - 1).range.end));
    const line = doc.lineAt(pos.line).text;
    const trimContext = {
      linePrefix: line.slice(0, pos.character),
      lineSuffix: line.slice(pos.character),
      previousLines: Array.from(
        { length: Math.min(CONTEXT_LINES, pos.line) },
        (_, i) => doc.lineAt(pos.line - Math.min(CONTEXT_LINES, pos.line) + i).text,
      ),
      nextLines: Array.from(
        { length: Math.min(CONTEXT_LINES, doc.lineCount - pos.line - 1) },
        (_, i) => doc.lineAt(pos.line + 1 + i).text,
      ),
      multiline: false,
    };
    trimContext.multiline = wantsMultiline(trimContext.linePrefix, trimContext.previousLines);

    let text = this.cache.get(prefix, suffix) ?? this.cache.reuse(prefix, suffix);
    if (text === undefined) {
      if (
        ctx.triggerKind === vscode.InlineCompletionTriggerKind.Automatic &&
        !(await sleep(completionsConfig.debounceMs(), token))
      )
        return [];
      const maxTokens = completionsConfig.maxTokens() * (trimContext.multiline ? 4 : 1);
      try {
        const r = await this.lab.inference.request(
          'complete',
          { modelDir: this.lab.modelDir, prefix, suffix, maxTokens, multiline: trimContext.multiline },
          token,
        );
        if (r.stopReason === 'cancelled' || token.isCancellationRequested) {
          trace('cancelled');
          return [];
        }
        text = trimCompletion(r.text, trimContext);
        trace(`${Math.round(r.ms)} ms in the worker: ${JSON.stringify(r.text)} → ${JSON.stringify(text)}`);
        this.cache.set(prefix, suffix, text);
      } catch (err) {
        if (!(err instanceof WorkerError && err.code === 'NO_CHECKPOINT'))
          log(`completion failed: ${(err as Error).message}`);
        return [];
      }
    }
    this.lastLatencyMs = performance.now() - started;

    if (ctx.selectedCompletionInfo) {
      const sel = ctx.selectedCompletionInfo;
      const extended = extendsSelectedItem(
        text,
        { text: sel.text, replaceStartInLine: sel.range.start.character },
        trimContext.linePrefix,
      );
      if (extended === undefined) return [];
      text = extended;
    }
    if (!text.trim()) return [];
    const shown = this.feedback.shown({
      prompt: prefix.slice(-PROMPT_CHARS),
      suffix: suffix.slice(0, SUFFIX_CHARS),
      uri: doc.uri.toString(),
      offset: doc.offsetAt(pos),
      completion: text,
      languageId: doc.languageId,
      modelStep: this.lab.info?.step ?? 0,
    });
    this.lastShown = { uri: doc.uri.toString(), version: doc.version, line: pos.line, character: pos.character };
    const item = new vscode.InlineCompletionItem(text, new vscode.Range(pos, pos), {
      command: 'gptLab.completionAccepted',
      title: 'Completion accepted',
      arguments: [shown.id],
    });
    return [item];
  }

  /** The position of the suggestion offered on `pos`'s line of `doc`, if one was and the text did not change since. */
  shownAt(doc: vscode.TextDocument, pos: vscode.Position): ShownAt | undefined {
    const s = this.lastShown;
    if (!s || s.uri !== doc.uri.toString() || s.version !== doc.version || s.line !== pos.line) return undefined;
    return s;
  }

  /** A cursor that leaves the suggestion's place in its document hides it: the hover stops offering to rank. */
  cursorMoved(doc: vscode.TextDocument, selections: readonly vscode.Selection[]): void {
    const s = this.lastShown;
    if (!s || s.uri !== doc.uri.toString()) return;
    const c = selections[0]?.active;
    if (selections.length !== 1 || !c || c.line !== s.line || c.character !== s.character) this.lastShown = undefined;
  }
}

/** Where a suggestion was offered: a document at one version, and the cursor's line and column. */
export interface ShownAt {
  uri: string;
  version: number;
  line: number;
  character: number;
}
