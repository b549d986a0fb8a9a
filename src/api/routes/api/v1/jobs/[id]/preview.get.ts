import { defineEventHandler, getRouterParam } from 'h3';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { useContext } from '../../../../../context.ts';

/** A stored value as the job page shows it: pretty JSON, cut at the preview size. */
export interface Preview {
  text: string;
  truncated: boolean;
  /** Size of the whole pretty JSON, in bytes. */
  bytes: number;
}

/**
 * One job for the dashboard: as GET /api/v1/jobs/:id, but payload and result
 * come as text previews of at most `dashboard.previewBytes`; the whole value
 * is at /api/v1/jobs/:id/download?part=payload|result.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();
  const id = getRouterParam(event, 'id', { decode: true }) ?? '';

  const job = await runtime.jobs.get(id);
  const limit = runtime.config.dashboard.previewBytes;
  return {
    ...job,
    payload: preview(job.payload, limit),
    result: job.result === undefined ? undefined : preview(job.result, limit),
  };
});

function preview(value: unknown, limit: number): Preview {
  const text = JSON.stringify(value, null, 2) ?? 'undefined';
  const bytes = Buffer.byteLength(text);
  if (bytes <= limit) return { text, truncated: false, bytes };
  return { text: Buffer.from(text).subarray(0, limit).toString('utf8'), truncated: true, bytes };
}
