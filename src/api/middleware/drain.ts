import { defineEventHandler, setResponseHeader } from 'h3';
import { isDraining, trackRequest } from '../drain.ts';
import { httpError } from '../http-error.ts';

/**
 * Runs before every route: counts running requests for the drain, and
 * while the process shuts down answers new ones 503 with `connection: close`.
 * `/healthz` still answers, so the process is not killed as hung mid-drain.
 */
export default defineEventHandler((event) => {
  if (isDraining() && event.path !== '/healthz') {
    setResponseHeader(event, 'connection', 'close');
    setResponseHeader(event, 'retry-after', 1);
    throw httpError(503, 'draining', 'this server is shutting down; retry on another');
  }
  trackRequest(event.node.res);
});
