import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tempDir, waitFor } from '../../helpers/runtime.ts';
import { ADMIN_KEY, api, startServer, type TestServer } from '../../helpers/server.ts';
import { COLUMNS, readSheet, testRow } from './source.ts';

const reportsDir = tempDir('tm-reports-');
let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    redisUrl: inject('redisUrl'),
    config: { reports: { dir: reportsDir, retentionMs: 4000, sweepIntervalMs: 1000 } },
  });
});
afterAll(async () => {
  await server?.stop();
});

async function download(fileId: string) {
  return fetch(`${server.url}/api/v1/reports/${fileId}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
}

describe('reports API', () => {
  it('serves a report a job made until its retention ends, then deletes it', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => testRow(i + 1));
    const submitted = await api(server, 'POST', '/api/v1/jobs', { type: 'report.excel', payload: { title: 'Sales', columns: COLUMNS, rows } });
    expect(submitted.status).toBe(202);

    const job = await waitFor(async () => {
      const { body } = await api(server, 'GET', `/api/v1/jobs/${submitted.body.id}`);
      return body.state === 'completed' ? body : undefined;
    }, 30_000);
    expect(job.result.download).toBe(`/api/v1/reports/${job.result.fileId}`);

    const response = await download(job.result.fileId);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(response.headers.get('content-disposition')).toContain('filename="Sales.xlsx"');
    const sheet = readSheet(Buffer.from(await response.arrayBuffer()));
    expect(sheet.rows).toHaveLength(27);

    const path = join(reportsDir, 'files', job.result.fileId);
    expect(existsSync(path)).toBe(true);
    await waitFor(async () => (await download(job.result.fileId)).status === 404, 15_000, 250);
    await waitFor(() => !existsSync(path), 15_000, 250);
  });

  it('answers 404 in the error shape for an unknown report', async () => {
    const missing = await api(server, 'GET', '/api/v1/reports/f_AAAAAAAAAAAAAAAA');

    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });
});
