import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { toNumber, Totals, type Column, type Row } from './spec.ts';

const MARGIN = 40;
const ROW_HEIGHT = 16;
const FONT_SIZE = 9;
const FOOTER_SPACE = 24;

/**
 * Writes a PDF report with pdfkit: the title and the date, then a table that
 * runs over as many pages as it needs, repeating its header on each, a totals
 * row at the end and "Page n of m" at the foot of every page. Pages are held
 * until the end (to number them), so the row count is capped by the caller.
 */
export async function writePdf(
  path: string,
  title: string,
  columns: Column[],
  chunks: AsyncIterable<Row[]>,
  onChunk: (rowsWritten: number) => Promise<void> = async () => {},
): Promise<{ rows: number; pages: number; totals: Record<string, number> }> {
  // Loaded on first use: pdfkit takes seconds to load, and most processes never write a PDF.
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({ size: 'A4', margin: MARGIN, bufferPages: true, info: { Title: title, Creator: 'TaskMaster' } });
  const out = createWriteStream(path);
  doc.pipe(out);

  const widths = columnWidths(doc, columns);
  const bottom = () => doc.page.height - MARGIN - FOOTER_SPACE;

  // 1. Title, then the table header.
  doc.font('Helvetica-Bold').fontSize(16).text(title, { width: tableWidth(doc) });
  doc.font('Helvetica').fontSize(FONT_SIZE).fillColor('#555').text(`Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  doc.fillColor('black').moveDown(0.5);
  let y = drawRow(doc, columns, widths, headerCells(columns), doc.y, true);

  // 2. The rows, a new page (with the header again) whenever one is full.
  const totals = new Totals(columns);
  let rows = 0;
  for await (const chunk of chunks) {
    for (const row of chunk) {
      if (y + ROW_HEIGHT > bottom()) {
        doc.addPage();
        y = drawRow(doc, columns, widths, headerCells(columns), MARGIN, true);
      }
      y = drawRow(doc, columns, widths, columns.map((c) => formatCell(c, row[c.key])), y, false);
      totals.add(row);
      rows++;
    }
    await onChunk(rows);
  }

  // 3. Totals.
  if (totals.any) {
    if (y + ROW_HEIGHT > bottom()) {
      doc.addPage();
      y = MARGIN;
    }
    const sums = totals.row();
    drawRow(doc, columns, widths, columns.map((c) => (c.total ? formatCell(c, sums[c.key]) : String(sums[c.key] ?? ''))), y, true);
  }

  // 4. Page numbers, written into every buffered page.
  const range = doc.bufferedPageRange();
  for (let i = 0; i < range.count; i++) {
    doc.switchToPage(range.start + i);
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(8)
      .text(`Page ${i + 1} of ${range.count}`, MARGIN, doc.page.height - MARGIN, { width: tableWidth(doc), align: 'right', lineBreak: false });
  }

  doc.end();
  await finished(out);
  return { rows, pages: range.count, totals: Object.fromEntries(totals.sums) };
}

function tableWidth(doc: PDFKit.PDFDocument): number {
  return doc.page.width - 2 * MARGIN;
}

function columnWidths(doc: PDFKit.PDFDocument, columns: Column[]): number[] {
  const weights = columns.map((c) => c.width ?? (c.type === 'text' ? 2 : 1));
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => (w / sum) * tableWidth(doc));
}

function headerCells(columns: Column[]): string[] {
  return columns.map((c) => c.header ?? c.key);
}

/** Draws one table row at `y`; returns the y of the next row. */
function drawRow(doc: PDFKit.PDFDocument, columns: Column[], widths: number[], cells: string[], y: number, bold: boolean): number {
  doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(FONT_SIZE);
  let x = MARGIN;
  cells.forEach((text, i) => {
    const numeric = columns[i].type === 'number' || columns[i].type === 'currency';
    doc.text(text, x + 2, y + 4, { width: widths[i] - 4, height: ROW_HEIGHT, align: numeric ? 'right' : 'left', lineBreak: false, ellipsis: true });
    x += widths[i];
  });
  doc
    .moveTo(MARGIN, y + ROW_HEIGHT)
    .lineTo(MARGIN + tableWidth(doc), y + ROW_HEIGHT)
    .lineWidth(bold ? 0.8 : 0.3)
    .strokeColor('#999')
    .stroke();
  return y + ROW_HEIGHT;
}

function formatCell(column: Column, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (column.type === 'number' || column.type === 'currency') {
    const n = toNumber(value);
    if (n === undefined) return String(value);
    const digits = column.type === 'currency' ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : { maximumFractionDigits: 6 };
    return n.toLocaleString('en-US', digits);
  }
  if (column.type === 'date') {
    const date = new Date(value as string | number);
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().slice(0, 10);
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
