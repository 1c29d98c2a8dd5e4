export * from './atomic';
export * from './checkpoint';
export * from './safetensors';
export type { CheckpointFileName, CheckpointState, FileRecord } from './state';
export * from './lock';
export * from './modelFolder';
