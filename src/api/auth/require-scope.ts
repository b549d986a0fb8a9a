import { getCookie, getRequestHeader, type H3Event } from 'h3';
import type { Scope } from '../../config/index.ts';
import { useContext } from '../context.ts';
import { httpError } from '../http-error.ts';
import { hasScope, type ApiKey } from './key-store.ts';
import { CSRF_HEADER, csrfMatches, SESSION_COOKIE } from './sessions.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates a request and checks the key holds `scope`: 401 without a
 * valid key, 403 without the scope. The key comes from the
 * `Authorization: Bearer <key>` header or, for the dashboard, from the
 * session cookie; a request that changes anything on a session must also
 * carry the session's CSRF token in `x-csrf-token`.
 */
export async function requireScope(event: H3Event, scope: Scope): Promise<ApiKey> {
  const key = await authenticate(event);

  if (!key) throw httpError(401, 'unauthorized', 'a valid API key is required (Authorization: Bearer <key>)');
  if (!hasScope(key, scope)) throw httpError(403, 'forbidden', `this API key lacks the ${scope} scope`);
  return key;
}

async function authenticate(event: H3Event): Promise<ApiKey | undefined> {
  const { keys, sessions } = await useContext();

  // 1. A bearer key wins; a wrong one is not rescued by a cookie.
  const header = getRequestHeader(event, 'authorization');
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match ? await keys.find(match[1]) : undefined;
  }

  // 2. A dashboard session, whose key must still exist.
  const token = getCookie(event, SESSION_COOKIE);
  if (!token) return undefined;
  const session = await sessions.find(token);
  if (!session) return undefined;
  if (!SAFE_METHODS.has(event.method) && !csrfMatches(session, getRequestHeader(event, CSRF_HEADER))) {
    throw httpError(403, 'csrf_failed', `actions from the dashboard need the session's ${CSRF_HEADER} header`);
  }
  return keys.findByHash(session.keyHash);
}
