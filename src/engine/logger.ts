import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: one JSON line per event. Secrets and API keys are
 * redacted wherever they appear in the metadata.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...base },
    redact: {
      paths: ['*.authorization', '*.apiKey', '*.secret', '*.password', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
