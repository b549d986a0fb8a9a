import { createReadStream } from 'node:fs';
import { defineEventHandler, getRouterParam, sendStream, setResponseHeaders } from 'h3';
import { NotFoundError } from '../../../../../engine/index.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/**
 * Downloads a report file a job produced (its `fileId`), until the
 * `reports.retentionMs` after it was made; 404 when unknown or expired.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();
  const id = getRouterParam(event, 'id', { decode: true }) ?? '';

  const file = await runtime.files.get(id);
  if (!file) throw new NotFoundError(`report ${id} not found or expired`);

  setResponseHeaders(event, {
    'content-type': file.contentType,
    'content-length': file.sizeBytes,
    'content-disposition': `attachment; filename="${file.name.replace(/[^\w.-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(file.name)}`,
    'cache-control': 'private, no-store',
    expires: new Date(file.expiresAt).toUTCString(),
  });
  return sendStream(event, createReadStream(file.path));
});
