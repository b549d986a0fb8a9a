import { setResponseHeader, setResponseStatus, send, type H3Error, type H3Event } from 'h3';
import { errorName } from '../core/errors.ts';
import type { ErrorBody } from './http-error.ts';
import { useContext } from './context.ts';

/**
 * The single exit for errors. Engine errors map to their status by name;
 * errors raised with `httpError` keep theirs; anything else is a 500 whose
 * details are logged, never sent.
 */
export default async function errorHandler(error: H3Error, event: H3Event): Promise<void> {
  const { status, body, retryAfter } = toResponse(error);
  if (status >= 500 && status !== 503) {
    const log = await useContext().then((c) => c.runtime.log).catch(() => undefined);
    log?.error({ err: error.cause ?? error, path: event.path }, 'unexpected error in request');
  }

  setResponseStatus(event, status);
  setResponseHeader(event, 'content-type', 'application/json');
  if (retryAfter) setResponseHeader(event, 'retry-after', retryAfter);
  await send(event, JSON.stringify(body));
}

function toResponse(error: H3Error): { status: number; body: ErrorBody; retryAfter?: number } {
  const cause = error.cause as { issues?: unknown; message?: string } | undefined;
  switch (errorName(cause)) {
    case 'ValidationError':
      return { status: 400, body: { error: { code: 'invalid_request', message: cause!.message!, details: cause!.issues } } };
    case 'NotFoundError':
      return { status: 404, body: { error: { code: 'not_found', message: cause!.message! } } };
    case 'ConflictError':
      return { status: 409, body: { error: { code: 'conflict', message: cause!.message!, details: (cause as { details?: unknown }).details } } };
    case 'UnavailableError':
      return {
        status: 503,
        retryAfter: 1,
        body: { error: { code: 'unavailable', message: 'storage is unavailable; nothing was stored, try again' } },
      };
  }

  const data = error.data as { code?: string; details?: unknown } | undefined;
  if (data?.code) {
    // A refusal that says when to come back (429) carries it as Retry-After too.
    const retryAfter = (data.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    return {
      status: error.statusCode,
      retryAfter,
      body: { error: { code: data.code, message: error.message, details: data.details } },
    };
  }
  if (error.statusCode === 404) {
    return { status: 404, body: { error: { code: 'not_found', message: 'no such route' } } };
  }
  if (error.statusCode === 405) {
    return { status: 405, body: { error: { code: 'method_not_allowed', message: 'method not allowed' } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}
