import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultTrainConfig, TrainConfig } from '../../../src/core/train/config';
import { pretrain } from '../../../src/core/train/trainer';
import { codeFiles } from './tf';

/**
 * A training run small enough for a unit test: a 2-layer, 32-wide model on 32-token windows, a step budget
 * (no minutes, so the run does not depend on the machine's speed), evaluation every 4 steps.
 */
export function tinyTrainConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return defaultTrainConfig('tiny', {
    model: { vocabSize: 300, contextLength: 32, nEmbd: 32, nLayer: 2, nHead: 2, positionEncoding: 'learned' },
    batchSize: 4,
    maxMinutes: undefined,
    maxSteps: 8,
    evalInterval: 4,
    evalBatches: 2,
    checkpointInterval: 1000,
    logInterval: 2,
    warmupSteps: 2,
    ...overrides,
  });
}

/** A fresh folder under the OS temp dir, named after the test that asked for it. */
export function tmpDir(name: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `gpt-lab-${name}-`));
}

/** A parent version for the stages after pre-training: a few steps on `codeFiles(3)`, saved in `root/base`. */
export async function parentVersion(
  name: string,
  overrides: Partial<TrainConfig> = {},
): Promise<{ root: string; base: string }> {
  const root = await tmpDir(name);
  const base = path.join(root, 'base');
  await pretrain({ files: codeFiles(3), config: tinyTrainConfig({ maxSteps: 4, ...overrides }), outDir: base });
  return { root, base };
}
