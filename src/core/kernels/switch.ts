/**
 * Fused kernels on or off (the reference path): on by default, off with GPTLAB_KERNELS=reference, and
 * switchable at run time so tests and benchmarks compare both in one process.
 */
let enabled = process.env.GPTLAB_KERNELS !== 'reference';

export function setFastKernels(on: boolean): void {
  enabled = on;
}

export function fastKernelsEnabled(): boolean {
  return enabled;
}
