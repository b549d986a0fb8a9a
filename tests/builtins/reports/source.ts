import * as XLSX from 'xlsx';
import { json, startHttpServer, type TestHttpServer } from '../http-test-server.ts';

export interface SourceOptions {
  rows: number;
  /** Answer this status once for this offset, then serve it normally. */
  failOnceAt?: { offset: number; status: number };
  /** Answer this status for every request. */
  alwaysStatus?: number;
  /** Answer with a body that is not JSON. */
  garbage?: boolean;
}

/** A row of the test dataset: numbers the test can sum without reading the file. */
export function testRow(i: number) {
  return { item: `item-${i}`, qty: i, price: i % 7 + 0.5, day: `2026-01-${String((i % 28) + 1).padStart(2, '0')}` };
}

/** A paged JSON source speaking the report `source` protocol (`?offset=&limit=`). */
export async function startSource(options: SourceOptions): Promise<TestHttpServer> {
  let failed = false;
  return startHttpServer((req, res) => {
    const offset = Number(req.url.searchParams.get('offset'));
    const limit = Number(req.url.searchParams.get('limit'));
    if (options.alwaysStatus) return json(res, options.alwaysStatus, { error: 'nope' });
    if (options.garbage) return void res.writeHead(200, { 'content-type': 'application/json' }).end('<html>oops');
    if (options.failOnceAt && !failed && options.failOnceAt.offset === offset) {
      failed = true;
      return json(res, options.failOnceAt.status, { error: 'try again' });
    }
    const rows = [];
    for (let i = offset + 1; i <= Math.min(options.rows, offset + limit); i++) rows.push(testRow(i));
    json(res, 200, { rows });
  });
}

export const COLUMNS = [
  { key: 'item', header: 'Item' },
  { key: 'qty', header: 'Quantity', type: 'number', total: true },
  { key: 'price', header: 'Price', type: 'currency', total: true },
  { key: 'day', header: 'Day', type: 'date' },
];

/** Reads an .xlsx back with SheetJS, a second implementation of the format. */
export function readSheet(bytes: Buffer): { name: string; rows: unknown[][] } {
  const workbook = XLSX.read(bytes, { cellDates: true });
  const name = workbook.SheetNames[0];
  return { name, rows: XLSX.utils.sheet_to_json(workbook.Sheets[name], { header: 1, raw: true }) };
}
