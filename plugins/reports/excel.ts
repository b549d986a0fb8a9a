import type ExcelJS from 'exceljs';
import { xlsxDrained } from '../../src/sdk/index.ts';
import { toNumber, Totals, type Column, type Row } from './spec.ts';

/** Excel's row limit per sheet, less the header row and a totals row. */
const ROWS_PER_SHEET = 1_048_576 - 2;
/** Rows written between two waits for the zip to take the sheet's XML. */
const ROWS_PER_DRAIN = 1000;

const NUMBER_FORMATS: Record<Column['type'], string | undefined> = {
  text: undefined,
  number: '#,##0.########',
  currency: '#,##0.00',
  date: 'yyyy-mm-dd',
};

/**
 * Writes an .xlsx with exceljs's streaming writer: each row is committed as
 * soon as it is added, and every `ROWS_PER_DRAIN` rows the writer waits for
 * the zip to take the sheet's XML, so memory stays flat however many rows
 * come. A header row (frozen) on each sheet, a totals row at the end, and a
 * new sheet every 1,048,574 rows.
 */
export async function writeExcel(
  path: string,
  title: string,
  columns: Column[],
  chunks: AsyncIterable<Row[]>,
  onChunk: (rowsWritten: number) => Promise<void> = async () => {},
): Promise<{ rows: number; totals: Record<string, number> }> {
  // Loaded on first use: exceljs takes seconds to load, and most processes never write a sheet.
  const { default: exceljs } = await import('exceljs');
  const workbook = new exceljs.stream.xlsx.WorkbookWriter({ filename: path, useStyles: true, useSharedStrings: false });
  workbook.creator = 'TaskMaster';
  workbook.title = title;

  const totals = new Totals(columns);
  let sheet = addSheet(workbook, title, columns, 1);
  let sheetRows = 0;
  let rows = 0;

  for await (const chunk of chunks) {
    for (const row of chunk) {
      if (sheetRows === ROWS_PER_SHEET) {
        sheet.commit();
        sheet = addSheet(workbook, title, columns, Math.floor(rows / ROWS_PER_SHEET) + 1);
        sheetRows = 0;
      }
      sheet.addRow(columns.map((c) => cellValue(c, row[c.key]))).commit();
      totals.add(row);
      sheetRows++;
      rows++;
      if (rows % ROWS_PER_DRAIN === 0) await xlsxDrained(workbook, sheet);
    }
    await onChunk(rows);
  }

  if (totals.any) {
    const totalRow = sheet.addRow(columns.map((c) => cellValue(c, totals.row()[c.key])));
    totalRow.font = { bold: true };
    totalRow.commit();
  }
  sheet.commit();
  await workbook.commit();
  return { rows, totals: Object.fromEntries(totals.sums) };
}

function addSheet(workbook: ExcelJS.stream.xlsx.WorkbookWriter, title: string, columns: Column[], index: number) {
  // Sheet names: at most 31 characters, none of []:*?/\
  const base = title.replace(/[[\]:*?/\\]/g, ' ').slice(0, 26).trim() || 'Report';
  const sheet = workbook.addWorksheet(index === 1 ? base : `${base} ${index}`, { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = columns.map((c) => ({
    header: c.header ?? c.key,
    key: c.key,
    width: c.width ?? Math.max(10, (c.header ?? c.key).length + 2),
    style: NUMBER_FORMATS[c.type] ? { numFmt: NUMBER_FORMATS[c.type] } : {},
  }));
  sheet.getRow(1).font = { bold: true };
  return sheet;
}

function cellValue(column: Column, value: unknown): ExcelJS.CellValue {
  if (value === undefined || value === null) return null;
  if (column.type === 'number' || column.type === 'currency') return toNumber(value) ?? String(value);
  if (column.type === 'date') {
    const date = new Date(value as string | number);
    return Number.isNaN(date.getTime()) ? String(value) : date;
  }
  return typeof value === 'object' ? JSON.stringify(value) : (value as string | number | boolean);
}
