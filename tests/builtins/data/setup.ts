import type { Runtime } from '../../../src/engine/index.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.ts';
import { startTestRuntime, tempDir, waitFor } from '../../helpers/runtime.ts';

export interface DataTestEnv {
  runtime: Runtime;
  db: TestDatabase;
  /** A second database, configured as `other`. */
  other?: TestDatabase;
  files: string;
  stop(): Promise<void>;
}

/**
 * A runtime with database `main` (a fresh database of this test file's own),
 * with `other` too when asked, and a files folder.
 */
export async function startDataEnv(
  options: { other?: boolean; settings?: Record<string, unknown>; config?: Record<string, unknown> } = {},
): Promise<DataTestEnv> {
  const db = await createTestDatabase();
  const other = options.other ? await createTestDatabase() : undefined;
  const files = tempDir('tm-data-');
  const runtime = await startTestRuntime({
    config: {
      databases: { main: { url: db.url }, ...(other ? { other: { url: other.url } } : {}) },
      plugins: { settings: { data: { files }, ...options.settings } },
      outbound: { allow: ['127.0.0.1'] },
      defaults: { backoffMs: 50 },
      scheduler: { enabled: false },
      ...options.config,
    },
  });
  return {
    runtime,
    db,
    other,
    files,
    async stop() {
      await runtime.stop();
      await db.drop();
      await other?.drop();
    },
  };
}

/** Submits a job and waits until it has finished, one way or the other. */
export async function runJob(runtime: Runtime, type: string, payload: unknown, options: Record<string, unknown> = {}) {
  const { id } = await runtime.producer.submit({ type, payload, ...options });
  return waitFor(async () => {
    const job = await runtime.jobs.get(id);
    // Not 'failed': that is only the moment before a job moves to the DLQ.
    return ['completed', 'dlq'].includes(job.state) ? job : undefined;
  }, 30_000);
}
