import { PermanentError } from '../../src/sdk/index.ts';

/** Connection-level failures of nodemailer: the server may well answer next time. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EPROTOCOL']);

/**
 * What an SMTP failure means for the job. A 5xx reply (mailbox unknown,
 * message refused) and a refused login cannot get better by retrying, so they
 * are permanent; a 4xx reply (greylisting, mailbox busy) and connection
 * trouble (refused, reset, timed out) are retried.
 */
export function classifySmtpError(err: unknown): Error {
  const e = err as { code?: string; responseCode?: number; message?: string };
  const message = `SMTP: ${e.message ?? String(err)}`;

  if (typeof e.responseCode === 'number' && e.responseCode >= 500) {
    return new PermanentError(message, { reason: `smtp_${e.responseCode}`, cause: err });
  }
  if (e.code === 'EAUTH') return new PermanentError(message, { reason: 'smtp_auth', cause: err });
  if (typeof e.responseCode === 'number' || (e.code && TRANSIENT_CODES.has(e.code))) {
    return new Error(message, { cause: err });
  }
  return err instanceof Error ? err : new Error(message);
}
