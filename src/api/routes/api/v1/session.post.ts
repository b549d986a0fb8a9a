import { defineEventHandler, getRequestProtocol, setCookie } from 'h3';
import { hasScope, sha256 } from '../../../auth/key-store.ts';
import { SESSION_COOKIE } from '../../../auth/sessions.ts';
import { readJson } from '../../../body.ts';
import { useContext } from '../../../context.ts';
import { httpError } from '../../../http-error.ts';

/**
 * Dashboard login: `{ key }` with a key holding `read` (view) or `admin`
 * (actions). Sets an httpOnly, SameSite=Strict session cookie and returns the
 * CSRF token the page must send with every action.
 */
export default defineEventHandler(async (event) => {
  const body = (await readJson(event)) as { key?: unknown };
  const { runtime, keys, sessions } = await useContext();

  if (!body || typeof body.key !== 'string' || !body.key) {
    throw httpError(400, 'invalid_request', 'body must be { key }', [{ field: 'key', message: 'expected the API key' }]);
  }
  const key = await keys.find(body.key);
  if (!key) throw httpError(401, 'unauthorized', 'unknown API key');
  if (!hasScope(key, 'read')) throw httpError(403, 'forbidden', 'the dashboard needs a key with the read or admin scope');

  const { token, session } = await sessions.create(key, sha256(body.key).toString('hex'));
  setCookie(event, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure: getRequestProtocol(event) === 'https',
    path: '/',
    maxAge: Math.floor((session.expiresAt - session.createdAt) / 1000),
  });
  runtime.log.info({ key: key.name }, 'dashboard login');
  return { name: key.name, scopes: key.scopes, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
});
