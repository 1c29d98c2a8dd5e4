import { findWebGpuAdapter, WebGpuAdapter } from '../../../src/core/backend/webgpu';
import { GptLabError } from '../../../src/core/errors';

/**
 * The adapter a webgpu suite runs on; where Dawn or any adapter is missing, skips the suite (`ctx` is its `before`
 * hook's) with a line that says so. Any other failure fails the suite.
 */
export async function adapterOrSkip(ctx: Mocha.Context, tests: string): Promise<WebGpuAdapter> {
  try {
    return await findWebGpuAdapter(true);
  } catch (err) {
    const code = err instanceof GptLabError ? err.code : '';
    if (code !== 'WEBGPU_MISSING' && code !== 'WEBGPU_NO_ADAPTER') throw err;
    console.log(`\n      !!! SKIPPING the ${tests}: ${(err as Error).message}\n`);
    ctx.skip();
  }
}
