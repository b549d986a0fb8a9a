import { defineEventHandler, setResponseHeader } from 'h3';
import { requireScope } from '../auth/require-scope.ts';
import { useContext } from '../context.ts';
import { prometheusText } from '../metrics/prometheus.ts';

/** Prometheus text format; scrape it with a key that has the `read` scope. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  const { contentType, body } = await prometheusText(runtime.metrics);
  setResponseHeader(event, 'content-type', contentType);
  return body;
});
