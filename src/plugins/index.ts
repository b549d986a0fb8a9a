export * from './discover.ts';
export * from './loader.ts';
export * from './registry.ts';
export * from './validate.ts';
