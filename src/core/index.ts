export * from './priority.ts';
export * from './errors.ts';
export * from './backoff.ts';
export * from './job.ts';
export * from './ids.ts';
export * from './time.ts';
export * from './schedule.ts';
export * from './queue-summary.ts';
