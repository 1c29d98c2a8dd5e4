import * as vscode from 'vscode';
import { parseArchitecture } from '../core/model/config';

/** The only place that reads settings; bad values fall back to defaults. */
const PRESETS = ['tiny', 'small', 'base', 'auto'] as const;
const BACKENDS = ['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;

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
  /** The architecture of new models: modern (default) or gpt2. */
  architecture: () => parseArchitecture(cfg().get('training.architecture')),
  /** Most data-parallel replicas (worker threads) training uses; 'auto' (the default, 0): one per core where it pays. */
  replicas: (): number | 'auto' => {
    const v = cfg().get('training.replicas');
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : 'auto';
  },
  /** Share of workspace rows mixed into fine-tuning batches, 0..0.9. */
  finetuneMixShare: () => {
    const v = cfg().get('finetune.mixShare');
    return typeof v === 'number' && Number.isFinite(v) ? Math.min(0.9, Math.max(0, v)) : 0.2;
  },
  /** A step budget for fine-tuning, or undefined to use the minutes. */
  finetuneSteps: (): number | undefined => {
    const v = cfg().get('finetune.steps');
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  },
  finetuneMinutes: () => positive(cfg().get('finetune.minutes'), 1),
  /** undefined: 0.3 × the parent's peak learning rate. */
  finetuneLearningRate: (): number | undefined => {
    const v = cfg().get('finetune.learningRate');
    return typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 1 ? v : undefined;
  },
  /** Completions per ranking, 2..9 (InstructGPT ranked 4 to 9). */
  rankCount: () => {
    const v = cfg().get('rank.count');
    return typeof v === 'number' && Number.isFinite(v) ? Math.min(9, Math.max(2, Math.round(v))) : 4;
  },
  /** Sampling temperature of the completions to rank (diverse, not greedy). */
  rankTemperature: () => {
    const v = cfg().get('rank.temperature');
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(2, v) : 1;
  },
  rankMaxTokens: () => {
    const v = cfg().get('rank.maxTokens');
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? Math.min(256, v) : 32;
  },
  /** A step budget for the Stage 3 trainers, or undefined to use the minutes. */
  alignSteps: (): number | undefined => {
    const v = cfg().get('align.steps');
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  },
  alignMinutes: () => positive(cfg().get('align.minutes'), 1),
  /** DPO's β: how far the policy may move from its parent (TRL's default 0.1). */
  dpoBeta: () => {
    const v = cfg().get('dpo.beta');
    return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 10 ? v : 0.1;
  },
  /** PPO's per-token KL penalty coefficient against the parent. */
  ppoKlCoef: () => {
    const v = cfg().get('ppo.klCoef');
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 10 ? v : 0.05;
  },
};

/** Settings that only apply when the worker restarts. */
export const RESTART_SETTINGS = ['gptLab.backend', 'gptLab.training.replicas'];
