export * from './connection.ts';
export * from './keys.ts';
export * from './embedded.ts';
export * from './checks.ts';
