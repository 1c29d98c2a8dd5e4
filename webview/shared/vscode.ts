/** The webview side of the channel to the extension host. */
interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

export const vscode = acquireVsCodeApi<unknown>();

/** A theme colour from VS Code's CSS variables, with a fallback for unknown themes. */
export function themeColor(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(`--vscode-${name}`).trim() || fallback;
}

/** Calls `f` whenever the user switches colour theme (VS Code swaps the body's classes). */
export function onThemeChange(f: () => void): void {
  new MutationObserver(f).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
