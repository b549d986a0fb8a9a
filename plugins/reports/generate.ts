import { PermanentError, type HandlerContext, type StoredFile } from '../../src/sdk/index.ts';
import { fetchAllChunks, FRESH, readChunks, type FetchState } from './dataset.ts';
import { writeExcel } from './excel.ts';
import { writePdf } from './pdf.ts';
import { reportFileName, type ReportSpec } from './spec.ts';

/** PDF pages are held in memory until numbered; beyond this many rows use Excel. */
export const PDF_MAX_ROWS = 50_000;

export type ReportFormat = 'pdf' | 'excel';

/** What a finished report leaves on its job. */
export interface ReportResult {
  fileId: string;
  fileName: string;
  sizeBytes: number;
  rows: number;
  pages?: number;
  totals: Record<string, number>;
  /** Path of the download route. */
  download: string;
  expiresAt: number;
}

/** A report job's progress, saved on the job: chunks fetched, then the finished file. */
export interface ReportState {
  fetch: FetchState;
  result?: ReportResult;
}

/**
 * Makes a report file in three steps, each resumable:
 * 1. a retry after the file was stored returns it without redoing anything;
 * 2. rows are fetched chunk by chunk into the work folder, resuming after the
 *    last finished chunk;
 * 3. the file is rendered from the chunks, stored and the work folder cleared.
 */
export async function generateReport(
  format: ReportFormat,
  spec: ReportSpec,
  ctx: HandlerContext,
  load: () => Promise<ReportState | undefined>,
  save: (state: ReportState) => Promise<void>,
): Promise<ReportResult> {
  // 1. Done already?
  const saved = await load();
  if (saved?.result && (await ctx.files.get(saved.result.fileId))) return saved.result;

  // 2. The rows.
  const { state, workDir } = await fetchAllChunks(spec, ctx, saved?.fetch ?? FRESH, (fetch) => save({ fetch }));
  if (format === 'pdf' && state.rowsDone > PDF_MAX_ROWS) {
    throw new PermanentError(`${state.rowsDone} rows are too many for a PDF (at most ${PDF_MAX_ROWS}); use report.excel`, {
      reason: 'too_many_rows',
    });
  }

  // 3. The file.
  const extension = format === 'pdf' ? 'pdf' : 'xlsx';
  const contentType =
    format === 'pdf' ? 'application/pdf' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
  const draft = await ctx.files.create({ name: reportFileName(spec, extension), contentType });
  const onChunk = (rowsWritten: number) =>
    ctx.progress({ phase: 'render', rowsWritten, rowsTotal: state.rowsDone, chunksDone: state.chunksDone });

  let rendered: { rows: number; pages?: number; totals: Record<string, number> };
  try {
    const chunks = readChunks(workDir, state.chunksDone);
    rendered = format === 'pdf'
      ? await writePdf(draft.path, spec.title, spec.columns, chunks, onChunk)
      : await writeExcel(draft.path, spec.title, spec.columns, chunks, onChunk);
  } catch (err) {
    await draft.discard();
    throw err;
  }

  const file: StoredFile = await draft.commit();
  const result: ReportResult = {
    fileId: file.id,
    fileName: file.name,
    sizeBytes: file.sizeBytes,
    rows: rendered.rows,
    pages: rendered.pages,
    totals: rendered.totals,
    download: `/api/v1/reports/${file.id}`,
    expiresAt: file.expiresAt,
  };
  await save({ fetch: state, result });
  await ctx.files.clearWorkDir();
  ctx.log.info({ fileId: file.id, rows: result.rows, sizeBytes: result.sizeBytes }, 'report stored');
  return result;
}
