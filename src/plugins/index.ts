export * from './archive.ts';
export * from './discover.ts';
export * from './loader.ts';
export * from './plugin-version.ts';
export * from './registry.ts';
export * from './sources.ts';
export * from './validate.ts';
export * from './watcher.ts';
