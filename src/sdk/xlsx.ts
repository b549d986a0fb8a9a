import { once } from 'node:events';

/**
 * Waits until the zip of an exceljs streaming `WorkbookWriter` has taken the
 * XML a worksheet wrote so far. Call it every thousand rows or so.
 *
 * exceljs writes each committed row into the zip entry's stream without
 * heeding backpressure, so a producer faster than deflate piles the whole
 * uncompressed sheet up in that stream (about 240 bytes a row: a
 * 1,000,000-row report measured 320 MB; with this wait, 165 MB). It reaches
 * into exceljs's writer (`sheet.stream.pipes`, `workbook.zip`, as of exceljs
 * 4.4); where those are missing it waits for nothing. A zip that fails
 * rejects the wait with its error.
 */
export async function xlsxDrained(workbook: object, sheet: object): Promise<void> {
  const pipes = ((sheet as { stream?: { pipes?: unknown[] } }).stream?.pipes ?? []) as NodeJS.EventEmitter[];
  const zip = (workbook as { zip?: NodeJS.EventEmitter }).zip;

  for (const pipe of pipes) {
    if (!(pipe as { _writableState?: { needDrain?: boolean } })._writableState?.needDrain) continue;
    const done = new AbortController();
    const failed = zip ? [once(zip, 'error', { signal: done.signal }).then(([err]) => Promise.reject(err))] : [];
    try {
      await Promise.race([once(pipe, 'drain', { signal: done.signal }), ...failed]);
    } finally {
      done.abort();
    }
  }
}
