import { getRequestHeader, type H3Event } from 'h3';
import type { Scope } from '../../config/index.ts';
import { useContext } from '../context.ts';
import { httpError } from '../http-error.ts';
import { hasScope, type ApiKey } from './key-store.ts';

/**
 * Authenticates a request by its `Authorization: Bearer <key>` header and
 * checks the key holds `scope`: 401 without a valid key, 403 without the scope.
 */
export async function requireScope(event: H3Event, scope: Scope): Promise<ApiKey> {
  const { keys } = await useContext();
  const header = getRequestHeader(event, 'authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const key = match ? await keys.find(match[1]) : undefined;

  if (!key) throw httpError(401, 'unauthorized', 'a valid API key is required (Authorization: Bearer <key>)');
  if (!hasScope(key, scope)) throw httpError(403, 'forbidden', `this API key lacks the ${scope} scope`);
  return key;
}
