import { getRequestHeader, type H3Event } from 'h3';
import { useContext } from './context.ts';
import { httpError } from './http-error.ts';

/**
 * Reads a JSON body of at most the configured payload limit: a declared
 * length over it is refused before reading, and a streamed body is cut off
 * at the limit. 415 for another content type, 400 for malformed JSON.
 */
export async function readJson(event: H3Event): Promise<unknown> {
  const { runtime } = await useContext();
  const limit = runtime.config.api.payloadLimitBytes;

  const type = getRequestHeader(event, 'content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw httpError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  const declared = Number(getRequestHeader(event, 'content-length'));
  if (declared > limit) throw tooLarge(limit);

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of event.node.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }

  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw httpError(400, 'invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
}

function tooLarge(limit: number) {
  return httpError(413, 'payload_too_large', `body exceeds the limit of ${limit} bytes`, { limitBytes: limit });
}
