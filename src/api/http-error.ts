import { createError, type H3Error } from 'h3';

/** The one error shape of the API: `{ error: { code, message, details } }`. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** An expected failure with its status, a machine-readable code and a user-safe message. */
export function httpError(status: number, code: string, message: string, details?: unknown): H3Error {
  return createError({ statusCode: status, statusMessage: code, message, data: { code, details } });
}
