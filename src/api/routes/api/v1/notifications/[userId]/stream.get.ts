import { createEventStream, defineEventHandler, getRouterParam } from 'h3';
import { USER_ID } from '../../../../../../core/index.ts';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { useContext } from '../../../../../context.ts';
import { httpError } from '../../../../../http-error.ts';

/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * Live in-app notifications of one user as server-sent events: a `ready`
 * event once subscribed, then one `notification` event (JSON data, `id` set
 * to the notification's id) for each new notification, from any worker.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();
  const userId = getRouterParam(event, 'userId', { decode: true }) ?? '';
  if (!USER_ID.test(userId)) {
    throw httpError(400, 'invalid_request', 'invalid user id', [{ field: 'userId', message: `must match ${USER_ID.source}` }]);
  }

  const stream = createEventStream(event);
  const unsubscribe = await runtime.inboxFeed.subscribe(userId, (n) => {
    void stream.push({ event: 'notification', id: n.id, data: JSON.stringify(n) });
  });
  const keepalive = setInterval(() => void stream.push({ event: 'keepalive', data: String(Date.now()) }), KEEPALIVE_MS);

  stream.onClosed(async () => {
    clearInterval(keepalive);
    await unsubscribe();
    await stream.close();
  });

  void stream.push({ event: 'ready', data: JSON.stringify({ userId }) });
  return stream.send();
});
