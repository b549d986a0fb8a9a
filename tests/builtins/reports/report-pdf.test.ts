import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';
import type { TestHttpServer } from '../http-test-server.ts';
import { finished } from '../support.ts';
import { COLUMNS, startSource, testRow } from './source.ts';

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

/** The PDF's text as poppler's pdftotext reads it, pages split on form feeds. */
function pdfText(path: string): string[] {
  return execFileSync('pdftotext', ['-layout', path, '-'], { encoding: 'utf8' }).split('\f').filter((p) => p.trim());
}

describe('report.pdf', () => {
  it('makes a PDF with a title, a table paginated with its header on every page, and totals', async () => {
    const rt = await start();
    const rows = Array.from({ length: 120 }, (_, i) => testRow(i + 1));

    const { id } = await rt.producer.submit({ type: 'report.pdf', payload: { title: 'Quarterly Sales', columns: COLUMNS, rows, chunkRows: 50 } });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    const result = job.result as { fileId: string; rows: number; pages: number; totals: Record<string, number> };
    expect(result.rows).toBe(120);
    expect(result.totals.qty).toBe(7260);
    const file = (await rt.files.get(result.fileId))!;
    expect(file.name).toBe('Quarterly-Sales.pdf');

    const pages = pdfText(file.path);
    expect(pages.length).toBe(result.pages);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages[0]).toContain('Quarterly Sales');
    for (const [i, page] of pages.entries()) {
      expect(page).toMatch(/Item\s+Quantity\s+Price\s+Day/);
      expect(page).toContain(`Page ${i + 1} of ${pages.length}`);
    }
    const all = pages.join('\n');
    expect(all).toMatch(/item-1\s+1\s+1\.50\s+2026-01-02/);
    const last = testRow(120);
    expect(all).toMatch(new RegExp(`item-120\\s+120\\s+${last.price.toFixed(2)}\\s+${last.day}`));
    const priceTotal = rows.reduce((s, r) => s + r.price, 0);
    expect(pages.at(-1)).toMatch(new RegExp(`Total\\s+7,260\\s+${priceTotal.toLocaleString('en-US', { minimumFractionDigits: 2 })}`));
  });

  it('retries a failing source and resumes after the last finished chunk', async () => {
    const rt = await start();
    source = await startSource({ rows: 45, failOnceAt: { offset: 20, status: 503 } });

    const { id } = await rt.producer.submit({
      type: 'report.pdf',
      payload: { title: 'From source', columns: COLUMNS, source: { url: `${source.url}/rows` }, chunkRows: 10 },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(job.attempts[0].error?.message).toMatch(/503/);
    // Chunks 0 and 10 were fetched once: the retry started at the chunk that failed.
    expect(source.requests.map((r) => Number(r.url.searchParams.get('offset')))).toEqual([0, 10, 20, 20, 30, 40]);
    expect(job.result).toMatchObject({ rows: 45 });
    expect(pdfText((await rt.files.get((job.result as { fileId: string }).fileId))!.path).join('\n')).toContain('item-45');
  });

  it('fails for good, once, when the source answers 404', async () => {
    const rt = await start();
    source = await startSource({ rows: 10, alwaysStatus: 404 });

    const { id } = await rt.producer.submit({
      type: 'report.pdf',
      payload: { title: 'Missing', columns: COLUMNS, source: { url: `${source.url}/rows` } },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
  });

  it('rejects a payload with both rows and a source, naming the field', async () => {
    const rt = await start();

    const err = await rt.producer
      .submit({ type: 'report.pdf', payload: { title: 'x', columns: COLUMNS, rows: [], source: { url: 'http://127.0.0.1:1/' } } })
      .catch((e) => e);

    expect(err.name).toBe('ValidationError');
    expect(err.issues[0]).toMatchObject({ field: 'payload.rows', message: 'give exactly one of rows and source' });
  });
});
