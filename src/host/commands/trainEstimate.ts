import {
  Architecture,
  AUTO_LADDER,
  AUTO_PRESET,
  autoPreset,
  parameterCount,
  Preset,
  withArchitecture,
} from '../../core/model/config';

/** ~3.5 bytes per token after BPE on code. */
const BYTES_PER_TOKEN = 3.5;

function parameters(p: Preset, architecture: Architecture): number {
  return parameterCount(withArchitecture({ model: p.model }, architecture).model);
}

/**
 * Training tokens per second a preset is planned with: the measured speed of `auto`'s ladder (AUTO_LADDER, the
 * one table of speeds), `auto`'s own for its size; a preset off the ladder (base) from the largest rung, scaled by
 * parameters (a step's work per token grows with them; base measured 0.11 of small's speed, parameters give 0.09).
 */
export function presetTokensPerSecond(p: Preset, o: { corpusBytes: number; minutes: number }): number {
  if (p.name === AUTO_PRESET) return autoPreset(o).tokensPerSecond;
  const rung = AUTO_LADDER.find((r) => r.preset.name === p.name);
  if (rung) return rung.tokensPerSecond;
  const largest = AUTO_LADDER[AUTO_LADDER.length - 1];
  const ratio = parameters(largest.preset, largest.preset.architecture) / parameters(p, p.architecture);
  return Math.round(largest.tokensPerSecond * ratio);
}

/**
 * What the quick pick says of a preset: its parameters in this architecture, and the tokens and passes over the
 * corpus the minutes buy (at most the preset's cap of passes, where the run ends sooner).
 */
export function trainEstimate(
  p: Preset,
  o: { corpusBytes: number; minutes: number; architecture: Architecture },
): { parameters: number; tokens: number; passes: number } {
  const corpusTokens = Math.max(1, o.corpusBytes / BYTES_PER_TOKEN);
  const passes = Math.min((presetTokensPerSecond(p, o) * o.minutes * 60) / corpusTokens, p.maxPasses ?? Infinity);
  return { parameters: parameters(p, o.architecture), tokens: passes * corpusTokens, passes };
}
