import { createEventStream, defineEventHandler } from 'h3';
import { SECOND } from '../../../../core/index.ts';
import { requireScope } from '../../../auth/require-scope.ts';
import { useContext } from '../../../context.ts';

const EVERY_MS = 2 * SECOND;

/**
 * Server-sent events for the dashboard: a `metrics` event with every
 * queue's depth and the last hour's throughput, every two seconds, for as
 * long as the page stays open.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();
  const stream = createEventStream(event);

  let closed = false;
  const push = async () => {
    try {
      const snapshot = await runtime.metrics.snapshot();
      if (!closed) await stream.push({ event: 'metrics', data: JSON.stringify(snapshot) });
    } catch (err) {
      // Redis away: tell the page, which keeps its last figures and waits.
      if (!closed) await stream.push({ event: 'unavailable', data: JSON.stringify({ message: (err as Error).message }) });
    }
  };
  const timer = setInterval(() => void push(), EVERY_MS);
  stream.onClosed(async () => {
    closed = true;
    clearInterval(timer);
    await stream.close();
  });
  void push();

  return stream.send();
});
