import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RedisClient } from '../redis/index.ts';
import type { Keys } from '../redis/index.ts';
import type { FileDraft, FileStore, StoredFile } from '../sdk/types.ts';
import type { Logger } from './logger.ts';

/** File ids as the store makes them; anything else is not looked up. */
const FILE_ID = /^f_[A-Za-z0-9_-]{16}$/;
const JOB_ID = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Files that jobs produce (report outputs). The bytes live under
 * `<dir>/files/<id>`, written as `<id>.part` and renamed on commit so a
 * half-written file is never offered. The metadata lives in RedisClient under a key
 * that expires with the retention, so every process (an API on the same
 * machine or a shared volume) sees the same files; a sweep deletes the bytes.
 */
export class FileStoreService {
  private readonly filesDir: string;
  private readonly workRoot: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    dir: string,
    readonly retentionMs: number,
  ) {
    this.filesDir = join(dir, 'files');
    this.workRoot = join(dir, 'work');
  }

  /** The store as one job's handler sees it. */
  forJob(jobId: string): FileStore {
    if (!JOB_ID.test(jobId)) throw new Error(`job id ${jobId} cannot name a work folder`);
    const workDir = join(this.workRoot, jobId);

    return {
      create: (options) => this.create(options, jobId),
      get: (id) => this.get(id),
      workDir: async () => {
        await mkdir(workDir, { recursive: true });
        return workDir;
      },
      clearWorkDir: () => rm(workDir, { recursive: true, force: true }),
    };
  }

  /** A committed, unexpired file whose bytes are on this machine. */
  async get(id: string): Promise<StoredFile | undefined> {
    if (!FILE_ID.test(id)) return undefined;

    const raw = await this.redis.get(this.keys.file(id));
    if (!raw) return undefined;
    const file = JSON.parse(raw) as StoredFile;
    return existsSync(file.path) ? file : undefined;
  }

  /**
   * Deletes file bytes and work folders older than the retention. Their Redis
   * metadata has expired by then on its own.
   */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const dir of [this.filesDir, this.workRoot]) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (!info || now - info.mtimeMs < this.retentionMs) continue;
        await rm(path, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Sweeps every `intervalMs` until the returned function is called. */
  startSweeper(intervalMs: number, log: Logger): () => Promise<void> {
    const run = () => {
      this.sweep()
        .then((removed) => removed && log.info({ removed }, 'expired report files deleted'))
        .catch((err) => log.error({ err }, 'report file sweep failed'));
    };
    run();
    const timer = setInterval(run, intervalMs);
    timer.unref();
    return async () => clearInterval(timer);
  }

  private async create(options: { name: string; contentType: string }, jobId: string): Promise<FileDraft> {
    await mkdir(this.filesDir, { recursive: true });
    const id = `f_${randomBytes(12).toString('base64url')}`;
    const finalPath = join(this.filesDir, id);
    const partPath = `${finalPath}.part`;

    return {
      id,
      path: partPath,
      commit: async () => {
        // 1. Make the bytes final, then 2. publish the metadata: a crash in
        // between leaves an unlisted file that the sweep deletes later.
        await rename(partPath, finalPath);
        const { size } = await stat(finalPath);
        const createdAt = Date.now();
        const file: StoredFile = {
          id,
          name: options.name,
          contentType: options.contentType,
          sizeBytes: size,
          path: finalPath,
          jobId,
          createdAt,
          expiresAt: createdAt + this.retentionMs,
        };
        await this.redis.set(this.keys.file(id), JSON.stringify(file), 'PX', this.retentionMs);
        return file;
      },
      discard: () => rm(partPath, { force: true }),
    };
  }
}
