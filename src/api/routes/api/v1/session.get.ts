import { defineEventHandler, getCookie } from 'h3';
import { requireScope } from '../../../auth/require-scope.ts';
import { SESSION_COOKIE } from '../../../auth/sessions.ts';
import { useContext } from '../../../context.ts';

/** Who is logged in, with the session's CSRF token (the page reads it after a reload). */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'read');
  const { sessions } = await useContext();

  const session = await sessions.find(getCookie(event, SESSION_COOKIE) ?? '');
  return { name: key.name, scopes: key.scopes, csrfToken: session?.csrfToken, expiresAt: session?.expiresAt };
});
