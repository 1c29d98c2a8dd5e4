import * as vscode from 'vscode';

function cfg(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('gptLab.completions');
}

function num(v: unknown, fallback: number, min: number, max: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback;
}

/** Completion settings, read fresh each time, tolerant of bad values. */
export const completionsConfig = {
  enabled: () => cfg().get('enabled') !== false,
  languages: (): Record<string, boolean> => {
    const v = cfg().get('languages');
    if (typeof v !== 'object' || v === null) return { '*': true };
    return Object.fromEntries(Object.entries(v).filter(([, on]) => typeof on === 'boolean')) as Record<string, boolean>;
  },
  debounceMs: () => num(cfg().get('debounceMs'), 60, 0, 2000),
  maxTokens: () => num(cfg().get('maxTokens'), 24, 1, 256),
  async setEnabled(on: boolean): Promise<void> {
    await cfg().update('enabled', on, vscode.ConfigurationTarget.Global);
  },
};
