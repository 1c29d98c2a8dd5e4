import * as vscode from 'vscode';

/** Editor tints whose strength follows an attention weight: the code is the visualisation. */
const LEVELS = [0.12, 0.24, 0.38, 0.55, 0.75];

export class AttentionDecorations implements vscode.Disposable {
  private readonly levels = LEVELS.map((a) =>
    vscode.window.createTextEditorDecorationType({
      backgroundColor: `rgba(255, 140, 0, ${a})`,
      borderRadius: '2px',
      overviewRulerColor: a >= 0.38 ? `rgba(255, 140, 0, ${a})` : undefined,
      overviewRulerLane: vscode.OverviewRulerLane.Right,
    }),
  );
  private readonly focused = vscode.window.createTextEditorDecorationType({
    border: '1px solid',
    borderColor: new vscode.ThemeColor('focusBorder'),
    borderRadius: '2px',
  });

  /** Tints `ranges` by their weights (0..1, relative to the largest), outlines `focus`. */
  show(
    editor: vscode.TextEditor,
    ranges: vscode.Range[],
    weights: ArrayLike<number>,
    focus: vscode.Range | undefined,
  ): void {
    let max = 0;
    for (let i = 0; i < weights.length; i++) max = Math.max(max, weights[i]);
    const buckets: vscode.DecorationOptions[][] = LEVELS.map(() => []);
    ranges.forEach((range, i) => {
      const w = max > 0 ? weights[i] / max : 0;
      if (w < 0.08) return;
      const level = Math.min(LEVELS.length - 1, Math.floor(w * LEVELS.length));
      buckets[level].push({ range, hoverMessage: `attention ${(weights[i] * 100).toFixed(1)}%` });
    });
    this.levels.forEach((type, i) => editor.setDecorations(type, buckets[i]));
    editor.setDecorations(this.focused, focus ? [focus] : []);
  }

  clear(editor: vscode.TextEditor | undefined): void {
    if (!editor) return;
    for (const t of [...this.levels, this.focused]) editor.setDecorations(t, []);
  }

  dispose(): void {
    for (const t of [...this.levels, this.focused]) t.dispose();
  }
}
