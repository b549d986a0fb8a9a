import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { freePort } from '../../../src/redis/index.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';
import type { TestHttpServer } from '../http-test-server.ts';
import { finished } from '../support.ts';
import { COLUMNS, readSheet, startSource } from './source.ts';

let runtime: Runtime | undefined;
let source: TestHttpServer | undefined;
afterEach(async () => {
  await runtime?.stop();
  await source?.close();
  runtime = source = undefined;
});

async function start() {
  runtime = await startTestRuntime({ config: { defaults: { backoffMs: 50 }, outbound: { allow: ['127.0.0.1'] } } });
  return runtime;
}

describe('report.excel', () => {
  it('writes a sheet with a header, typed cells and a totals row, in chunks with progress', async () => {
    const rt = await start();
    source = await startSource({ rows: 2500 });

    const { id } = await rt.producer.submit({
      type: 'report.excel',
      payload: { title: 'Orders: 2026/01', columns: COLUMNS, source: { url: `${source.url}/rows` }, chunkRows: 1000 },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.progress).toMatchObject({ phase: 'render', rowsWritten: 2500, rowsTotal: 2500, chunksDone: 3 });
    const file = (await rt.files.get((job.result as { fileId: string }).fileId))!;
    expect(file.name).toBe('Orders-2026-01.xlsx');

    const sheet = readSheet(readFileSync(file.path));
    expect(sheet.name).toBe('Orders  2026 01');
    expect(sheet.rows[0]).toEqual(['Item', 'Quantity', 'Price', 'Day']);
    expect(sheet.rows).toHaveLength(1 + 2500 + 1);
    expect(sheet.rows[1].slice(0, 3)).toEqual(['item-1', 1, 1.5]);
    expect((sheet.rows[1][3] as Date).toISOString().slice(0, 10)).toBe('2026-01-02');
    expect(sheet.rows[2500][0]).toBe('item-2500');
    const qty = (2500 * 2501) / 2;
    expect(sheet.rows[2501].slice(0, 2)).toEqual(['Total', qty]);
  });

  it('retries when the source refuses the connection', async () => {
    const rt = await start();

    const { id } = await rt.producer.submit({
      type: 'report.excel',
      payload: { title: 'Down', columns: COLUMNS, source: { url: `http://127.0.0.1:${await freePort()}/rows` } },
      retries: 1,
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(2);
    expect(job.attempts[0].error?.name).not.toBe('PermanentError');
  });

  it('fails for good, once, when the source does not answer JSON rows', async () => {
    const rt = await start();
    source = await startSource({ rows: 10, garbage: true });

    const { id } = await rt.producer.submit({
      type: 'report.excel',
      payload: { title: 'Garbage', columns: COLUMNS, source: { url: `${source.url}/rows` } },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
  });
});
