export * from './distribution';
export * from './generate';
