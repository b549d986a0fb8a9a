/**
 * Memory of a 1,000,000-row Excel export: the report.excel job's render step
 * (chunk files read one at a time into exceljs's streaming writer) against a
 * baseline that builds the same workbook in memory with exceljs's ordinary
 * `Workbook` and writes it at the end. Each runs in a child process of its own;
 * the figure is that process's peak resident memory (maxRSS).
 *
 *   node --import tsx bench/excel-memory.ts [rows=1000000] [--no-baseline]
 *
 * The aim: the TaskMaster export stays under 300 MB.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { readChunks } from '../plugins/reports/dataset.ts';
import { writeExcel } from '../plugins/reports/excel.ts';
import type { Column, Row } from '../plugins/reports/spec.ts';

const AIM_MB = 300;
const CHUNK_ROWS = 10_000;
const COLUMNS: Column[] = [
  { key: 'id', header: 'Id', type: 'number', total: false },
  { key: 'customer', header: 'Customer', type: 'text', total: false },
  { key: 'qty', header: 'Quantity', type: 'number', total: true },
  { key: 'amount', header: 'Amount', type: 'currency', total: true },
  { key: 'day', header: 'Day', type: 'date', total: false },
];

function row(i: number): Row {
  return { id: i, customer: `customer-${i % 9973}`, qty: i % 17, amount: (i % 1000) / 7, day: `2026-0${(i % 9) + 1}-1${i % 9}` };
}

async function child(mode: string, dir: string, rows: number): Promise<void> {
  const chunks = Math.ceil(rows / CHUNK_ROWS);
  const out = join(dir, `${mode}.xlsx`);
  const started = Date.now();

  if (mode === 'taskmaster') {
    await writeExcel(out, 'Bench', COLUMNS, readChunks(dir, chunks));
  } else {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Bench');
    sheet.columns = COLUMNS.map((c) => ({ header: c.header, key: c.key }));
    for await (const chunk of readChunks(dir, chunks)) {
      for (const r of chunk) sheet.addRow(COLUMNS.map((c) => (c.type === 'date' ? new Date(r[c.key] as string) : r[c.key])));
    }
    await workbook.xlsx.writeFile(out);
  }

  const peakMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ mode, peakMb, seconds: (Date.now() - started) / 1000, bytes: statSync(out).size }));
}

async function main(): Promise<void> {
  const [, , first, ...rest] = process.argv;
  if (first === '--child') return child(rest[0], rest[1], Number(rest[2]));

  const rows = Number(first && !first.startsWith('--') ? first : 1_000_000);
  const baseline = !process.argv.includes('--no-baseline');
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-excel-'));

  // The chunk files a report job would have fetched, as NDJSON.
  for (let c = 0; c * CHUNK_ROWS < rows; c++) {
    const lines: string[] = [];
    for (let i = c * CHUNK_ROWS + 1; i <= Math.min(rows, (c + 1) * CHUNK_ROWS); i++) lines.push(JSON.stringify(row(i)));
    writeFileSync(join(dir, `chunk-${String(c).padStart(6, '0')}.ndjson`), lines.join('\n'));
  }

  const run = (mode: string) => {
    try {
      const output = execFileSync(
        process.execPath,
        ['--max-old-space-size=6144', '--import', 'tsx', import.meta.filename, '--child', mode, dir, String(rows)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
      );
      return JSON.parse(output) as { mode: string; peakMb: number; seconds: number; bytes: number };
    } catch (err) {
      return { mode, failed: (err as Error).message.split('\n')[0] };
    }
  };

  const results = [run('taskmaster'), ...(baseline ? [run('baseline')] : [])];
  rmSync(dir, { recursive: true, force: true });

  console.log(`Excel export of ${rows.toLocaleString('en-US')} rows, peak resident memory (maxRSS):`);
  for (const r of results) {
    if ('failed' in r) console.log(`  ${r.mode.padEnd(11)} failed: ${r.failed}`);
    else console.log(`  ${r.mode.padEnd(11)} ${r.peakMb.toFixed(0).padStart(6)} MB  ${r.seconds.toFixed(1)} s  ${(r.bytes / 1e6).toFixed(1)} MB file`);
  }
  const [tm, base] = results;
  if (base && 'peakMb' in tm && 'peakMb' in base) console.log(`  ratio baseline/taskmaster: ${(base.peakMb / tm.peakMb).toFixed(1)}x`);
  if ('peakMb' in tm) console.log(`  aim: under ${AIM_MB} MB -> ${tm.peakMb < AIM_MB ? 'met' : 'MISSED'}`);
}

await main();
