import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { xlsxDrained, z, type HandlerContext } from '../../src/sdk/index.ts';
import { databaseName, filePath } from './settings.ts';

export const exportSchema = z.object({
  database: databaseName,
  /** A read-only query; parameters as `$1`, `$2`. */
  query: z.string().min(1).max(100_000),
  params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).default([]),
  format: z.enum(['csv', 'ndjson', 'xlsx']),
  /** The file to write, relative to the configured folder; replaced whole when the export ends. */
  file: z.string().min(1).max(500),
  /** Rows fetched from the server at a time. */
  batchSize: z.number().int().min(10).max(10_000).default(1000),
});

type ExportPayload = z.infer<typeof exportSchema>;

/** Something rows are written to one by one. */
interface RowSink {
  write(row: Record<string, unknown>): Promise<void>;
  end(): Promise<void>;
}

/**
 * Streams a query's rows to a file through a server-side cursor: memory
 * holds one batch of rows, whatever the result size. The file is written
 * under a temporary name and renamed at the end, so readers never see half.
 */
export async function exportData(payload: ExportPayload, ctx: HandlerContext) {
  const target = filePath(ctx.config, payload.file);
  const partial = `${target}.${ctx.jobId}.partial`;
  const sink = payload.format === 'xlsx' ? await xlsxSink(partial) : textSink(partial, payload.format);

  let rows = 0;
  try {
    for await (const row of ctx.db(payload.database).stream(payload.query, payload.params, { batchSize: payload.batchSize, readOnly: true })) {
      ctx.signal.throwIfAborted();
      await sink.write(row);
      rows++;
      if (rows % 10_000 === 0) await ctx.progress({ rows });
    }
    await sink.end();
    await rename(partial, target);
  } catch (err) {
    await unlink(partial).catch(() => {
      // Nothing was written yet, or the file is already gone: nothing to clean.
    });
    throw err;
  }

  const { size } = await stat(target);
  return { file: payload.file, format: payload.format, rows, bytes: size };
}

function textSink(path: string, format: 'csv' | 'ndjson'): RowSink {
  const out = createWriteStream(path);
  let header: string[] | undefined;
  const put = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  return {
    async write(row) {
      if (format === 'ndjson') return put(JSON.stringify(row) + '\n');
      if (!header) {
        header = Object.keys(row);
        await put(header.map(csvField).join(',') + '\r\n');
      }
      await put(header.map((c) => csvField(row[c])).join(',') + '\r\n');
    },
    async end() {
      out.end();
      await once(out, 'finish');
    },
  };
}

/** exceljs is loaded on first use: it is large, and most processes never write a workbook. */
async function xlsxSink(path: string): Promise<RowSink> {
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: path, useSharedStrings: false, useStyles: false });
  const sheet = workbook.addWorksheet('export');
  let header: string[] | undefined;
  let rows = 0;
  return {
    async write(row) {
      if (!header) {
        header = Object.keys(row);
        sheet.addRow(header).commit();
      }
      sheet.addRow(header.map((c) => cellValue(row[c]))).commit();
      if (++rows % 1000 === 0) await xlsxDrained(workbook, sheet);
    },
    async end() {
      sheet.commit();
      await workbook.commit();
    },
  };
}

/** A CSV field per RFC 4180: quoted when it holds a comma, quote or line break. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function cellValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date || typeof value === 'number' || typeof value === 'boolean') return value;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
