import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: one JSON line per event, to standard output (or to
 * standard error for commands whose output is data). Secrets and API keys are
 * redacted wherever they appear in the metadata.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, to: 'stdout' | 'stderr' = 'stdout'): Logger {
  const options = {
    level,
    base: { pid: process.pid, ...base },
    redact: {
      paths: ['*.authorization', '*.apiKey', '*.secret', '*.password', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  return to === 'stderr' ? pino(options, pino.destination(2)) : pino(options);
}
