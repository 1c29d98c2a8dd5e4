import * as vscode from 'vscode';
import type { Lab } from '../lab';
import { CompletionFeedback } from './feedback';
import { GptLabCompletionProvider } from './provider';
import { completionsConfig } from './settings';

/** The inline completion provider, its commands and its status bar toggle. */
export function registerCompletions(lab: Lab): { provider: GptLabCompletionProvider; disposable: vscode.Disposable } {
  const feedback = new CompletionFeedback(lab.storageDir, () => void lab.recountExamples());
  const provider = new GptLabCompletionProvider(lab, feedback);
  const toggle = vscode.window.createStatusBarItem('gptLab.completions', vscode.StatusBarAlignment.Right, 100);
  toggle.name = 'GPT Lab Completions';
  toggle.command = 'gptLab.toggleCompletions';
  const render = () => {
    const on = completionsConfig.enabled();
    toggle.text = on ? '$(sparkle) GPT Lab' : '$(circle-slash) GPT Lab';
    toggle.tooltip = on
      ? `Completions from your workspace model are on${provider.lastLatencyMs !== undefined ? ` (last: ${Math.round(provider.lastLatencyMs)} ms)` : ''}. Click to pause them.`
      : 'Completions from your workspace model are paused. Click to turn them on.';
    if (lab.info) toggle.show();
    else toggle.hide();
  };
  render();
  const disposable = vscode.Disposable.from(
    toggle,
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    // Hovering a suggestion (or its line) offers to rank the model's completions of that place.
    vscode.languages.registerHoverProvider(
      { pattern: '**' },
      { provideHover: (doc, pos) => rankHover(provider, doc, pos) },
    ),
    vscode.window.onDidChangeTextEditorSelection((e) => provider.cursorMoved(e.textEditor.document, e.selections)),
    lab.onDidChange(render),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('gptLab.completions') && render()),
    vscode.commands.registerCommand('gptLab.toggleCompletions', async () => {
      await completionsConfig.setEnabled(!completionsConfig.enabled());
      render();
    }),
    vscode.commands.registerCommand('gptLab.triggerCompletion', () =>
      vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'),
    ),
    // A suggestion the user types through is accepted as much as one taken with Tab.
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length === 0) return;
      const doc = e.document;
      void feedback.documentChanged({
        uri: doc.uri.toString(),
        textBetween: (start, end) =>
          start < 0 ? '' : doc.getText(new vscode.Range(doc.positionAt(start), doc.positionAt(end))),
      });
    }),
    vscode.commands.registerCommand(
      'gptLab.completionAccepted',
      (id: unknown) => typeof id === 'number' && feedback.accepted(id),
    ),
  );
  return { provider, disposable };
}

/** The hover over a shown suggestion: a trusted link that runs Rank Completions for that position. */
export function rankHover(
  provider: GptLabCompletionProvider,
  doc: vscode.TextDocument,
  pos: vscode.Position,
): vscode.Hover | undefined {
  const at = provider.shownAt(doc, pos);
  if (!at) return undefined;
  const args = encodeURIComponent(JSON.stringify([{ at: { uri: at.uri, line: at.line, character: at.character } }]));
  const md = new vscode.MarkdownString(
    `[$(list-ordered) Rank completions here](command:gptLab.rankCompletions?${args} "Let the model write several completions of this place and order them: your ranking teaches it (Stage 3)")`,
    true,
  );
  md.isTrusted = { enabledCommands: ['gptLab.rankCompletions'] };
  return new vscode.Hover(md, doc.lineAt(at.line).range);
}
