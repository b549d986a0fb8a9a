import { defineEventHandler, deleteCookie, getCookie, setResponseStatus } from 'h3';
import { requireScope } from '../../../auth/require-scope.ts';
import { SESSION_COOKIE } from '../../../auth/sessions.ts';
import { useContext } from '../../../context.ts';

/** Logout: ends the session in Redis and clears the cookie. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { sessions } = await useContext();

  const token = getCookie(event, SESSION_COOKIE);
  if (token) await sessions.delete(token);
  deleteCookie(event, SESSION_COOKIE, { path: '/' });
  setResponseStatus(event, 204);
  return null;
});
