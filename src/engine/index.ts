export * from './errors.ts';
export * from './logger.ts';
export * from './producer.ts';
export * from './jobs.ts';
export * from './runtime.ts';
export * from './heartbeat.ts';
export * from './attempts.ts';
export * from './events.ts';
