import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterEach, expect, it } from 'vitest';
import { xlsxDrained } from '../../../src/sdk/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tm-xlsx-drain-'));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The uncompressed XML waiting in the sheet's zip entry stream, in bytes. */
function backlog(sheet: object): number {
  const pipes = (sheet as { stream: { pipes: { _writableState: { length: number } }[] } }).stream.pipes;
  return pipes.reduce((sum, p) => sum + p._writableState.length, 0);
}

it('keeps what a streaming sheet has not yet zipped to about a thousand rows', async () => {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: join(dir, 'out.xlsx'), useSharedStrings: false });
  const sheet = workbook.addWorksheet('rows');
  let largest = 0;

  for (let i = 1; i <= 20_000; i++) {
    sheet.addRow([i, `customer-${i}`, i / 7, new Date(2026, 0, 1 + (i % 28))]).commit();
    if (i % 1000 === 0) {
      await xlsxDrained(workbook, sheet);
      largest = Math.max(largest, backlog(sheet));
    }
  }
  sheet.commit();
  await workbook.commit();

  // Without the wait the backlog grows with every row (about 4 MB here by the end).
  expect(largest).toBeLessThan(256 * 1024);
});
