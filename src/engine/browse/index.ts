export * from './sources.ts';
export * from './job-list.ts';
export * from './history.ts';
export * from './timeline.ts';
