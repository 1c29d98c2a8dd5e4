export * from './distribution';
export * from './generate';
export * from './batch';
export * from './decoder';
