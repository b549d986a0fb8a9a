import { createReadStream, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { failureForStatus, PermanentError, type HandlerContext } from '../../src/sdk/index.ts';
import type { ReportSpec, Row } from './spec.ts';

/** How far fetching got: saved after every finished chunk. */
export interface FetchState {
  chunksDone: number;
  rowsDone: number;
  /** True once the last chunk is in. */
  complete: boolean;
}

export const FRESH: FetchState = { chunksDone: 0, rowsDone: 0, complete: false };

/**
 * Brings every row of the report into the job's work folder, one NDJSON file
 * per chunk, saving `FetchState` after each chunk through `save`. Given the
 * state of an earlier attempt it resumes after the last finished chunk, as
 * long as those chunk files are still here (a retry on another machine
 * starts over).
 */
export async function fetchAllChunks(
  spec: ReportSpec,
  ctx: HandlerContext,
  state: FetchState,
  save: (state: FetchState) => Promise<void>,
): Promise<{ state: FetchState; workDir: string }> {
  const workDir = await ctx.files.workDir();
  if (!chunksPresent(workDir, state.chunksDone)) state = FRESH;
  if (state.chunksDone > 0) ctx.log.info({ chunksDone: state.chunksDone }, 'report resumes after the last finished chunk');

  while (!state.complete) {
    ctx.signal.throwIfAborted();
    const offset = state.rowsDone;
    const rows = await readChunk(spec, ctx, offset);

    await writeFile(chunkPath(workDir, state.chunksDone), rows.map((r) => JSON.stringify(r)).join('\n'));
    state = {
      chunksDone: state.chunksDone + 1,
      rowsDone: offset + rows.length,
      complete: rows.length < spec.chunkRows || (spec.rows !== undefined && offset + rows.length >= spec.rows.length),
    };
    await save(state);
    await ctx.progress({ phase: 'fetch', chunksDone: state.chunksDone, rowsDone: state.rowsDone });
  }
  return { state, workDir };
}

/** The rows of the finished chunks, one chunk at a time, in order. */
export async function* readChunks(workDir: string, chunks: number): AsyncGenerator<Row[]> {
  for (let i = 0; i < chunks; i++) {
    const rows: Row[] = [];
    const lines = createInterface({ input: createReadStream(chunkPath(workDir, i)), crlfDelay: Infinity });
    for await (const line of lines) if (line) rows.push(JSON.parse(line));
    yield rows;
  }
}

async function readChunk(spec: ReportSpec, ctx: HandlerContext, offset: number): Promise<Row[]> {
  if (spec.rows) return spec.rows.slice(offset, offset + spec.chunkRows);

  const source = spec.source!;
  const url = new URL(source.url);
  url.searchParams.set('offset', String(offset));
  url.searchParams.set('limit', String(spec.chunkRows));

  // A refused connection or a timeout rejects here and is retried.
  const response = await ctx.http.fetch(url, { headers: { accept: 'application/json', ...source.headers }, timeoutMs: source.timeoutMs });
  const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'report source');
  if (failure) {
    await response.body?.cancel();
    throw failure;
  }

  let body: unknown;
  try {
    body = await response.json();
  } catch (err) {
    throw new PermanentError(`report source sent no JSON at offset ${offset}: ${(err as Error).message}`, { reason: 'bad_source' });
  }
  const rows = Array.isArray(body) ? body : (body as { rows?: unknown })?.rows;
  if (!Array.isArray(rows) || rows.some((r) => typeof r !== 'object' || r === null || Array.isArray(r))) {
    throw new PermanentError(`report source must answer an array of row objects (offset ${offset})`, { reason: 'bad_source' });
  }
  return rows as Row[];
}

function chunkPath(workDir: string, index: number): string {
  return join(workDir, `chunk-${String(index).padStart(6, '0')}.ndjson`);
}

function chunksPresent(workDir: string, count: number): boolean {
  for (let i = 0; i < count; i++) if (!existsSync(chunkPath(workDir, i))) return false;
  return true;
}
