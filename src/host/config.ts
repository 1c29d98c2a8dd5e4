import * as vscode from 'vscode';

/** The only place that reads settings; bad values fall back to defaults. */
const PRESETS = ['tiny', 'small', 'base'] as const;
const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

function cfg(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('gptLab');
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '') : [];
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

export const config = {
  preset: () => oneOf(cfg().get('preset'), PRESETS, 'tiny'),
  trainingMinutes: () => positive(cfg().get('trainingMinutes'), 2),
  include: () => stringArray(cfg().get('include')),
  exclude: () => stringArray(cfg().get('exclude')),
  maxFileBytes: () => positive(cfg().get('maxFileSizeKB'), 1024) * 1024,
  backend: () => oneOf(cfg().get('backend'), BACKENDS, 'auto'),
};

/** Settings that only apply when the worker restarts. */
export const RESTART_SETTINGS = ['gptLab.backend'];
