import type { IncomingMessage } from 'node:http';
import { getRequestHeader, setResponseHeader, type H3Event } from 'h3';
import { useContext } from './context.ts';
import { httpError } from './http-error.ts';

/** Deepest nesting of arrays and objects a body may have. */
export const MAX_JSON_DEPTH = 64;

/**
 * Reads a JSON body of at most the configured payload limit: a declared
 * length over it is refused before reading, and a streamed body is cut off
 * at the limit. 415 for another content type, 400 for malformed JSON or
 * nesting deeper than `MAX_JSON_DEPTH`, 408 when the body does not arrive
 * within `api.bodyTimeoutMs`. A refused body closes the connection, so the
 * rest of it is never read.
 */
export async function readJson(event: H3Event): Promise<unknown> {
  const { runtime } = await useContext();
  const { payloadLimitBytes: limit, bodyTimeoutMs } = runtime.config.api;

  // 1. What the headers say.
  const type = getRequestHeader(event, 'content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw httpError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  const declared = Number(getRequestHeader(event, 'content-length'));
  if (declared > limit) throw closing(event, tooLarge(limit));

  // 2. The bytes, within the size and time limits.
  const raw = await readBody(event.node.req, limit, bodyTimeoutMs).catch((err) => {
    throw closing(event, err);
  });

  // 3. The JSON.
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw httpError(400, 'invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
  if (depthOver(value, MAX_JSON_DEPTH)) {
    throw httpError(400, 'invalid_json', `body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value;
}

function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: unknown) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', finish).off('aborted', onAborted);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(tooLarge(limit));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onAborted = () => finish(httpError(400, 'aborted', 'the client stopped sending the body'));
    const timer = setTimeout(
      () => finish(httpError(408, 'request_timeout', `body not received within ${timeoutMs} ms`, { timeoutMs })),
      timeoutMs,
    );

    req.on('data', onData).on('end', onEnd).on('error', finish).on('aborted', onAborted);
  });
}

/** True when `value` nests deeper than `max`; iterative, so no input can overflow the stack. */
function depthOver(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The answer ends the connection: the unread rest of the body is never waited for. */
function closing(event: H3Event, err: unknown): unknown {
  setResponseHeader(event, 'connection', 'close');
  return err;
}

function tooLarge(limit: number) {
  return httpError(413, 'payload_too_large', `body exceeds the limit of ${limit} bytes`, { limitBytes: limit });
}

/** Like `readJson`, but a request without a body reads as `{}`. */
export async function readOptionalJson(event: H3Event): Promise<unknown> {
  const length = getRequestHeader(event, 'content-length');
  const chunked = getRequestHeader(event, 'transfer-encoding');
  if ((length === undefined || length === '0') && !chunked) return {};
  return readJson(event);
}
