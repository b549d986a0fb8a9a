import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../config/index.ts';
import type { Logger } from './logger.ts';

/** How often the main thread tells the keeper it is alive, at most. */
const BEAT_MS = 1000;

/** One job's lock as BullMQ took it, for the keeper to renew. */
export interface HeldLock {
  /** Which BullMQ worker of this process runs the job (a queue's slot). */
  owner: string;
  jobId: string;
  token: string;
  lockKey: string;
  jobKey: string;
  stalledKey: string;
  /** After this time (epoch ms) the keeper stops renewing: the job's timeout plus a lock time. */
  deadline: number;
}

/** A BullMQ worker of this process, whose taken jobs the keeper can find by lock token. */
export interface WatchedQueue {
  owner: string;
  activeKey: string;
  stalledKey: string;
  /** `<prefix>:{<queue>}:`: a job's lock key is this, its id and `:lock`. */
  keyBase: string;
  /** BullMQ's lock tokens of that worker start with this (`<worker id>:`). */
  tokenPrefix: string;
}

export interface LockKeeperOptions {
  redisUrl: string;
  lockDurationMs: number;
  /** The job hash field a cancel request sets. */
  cancelField: string;
  log: Logger;
  /** A held job was found cancelled (the pub/sub message may have been lost). */
  onCancel: (jobId: string) => void;
}

/**
 * Keeps the locks of the jobs this worker process runs, from a thread of its
 * own. BullMQ renews locks on the process's event loop; a handler that holds
 * that loop (a CPU-bound loop, a synchronous call) stops the renewal, the
 * lock expires, another worker's stalled check takes the job for abandoned
 * and runs it a second time. The keeper's thread has its own event loop and
 * Redis connection, so the locks live as long as the process does:
 * - a process that dies (SIGKILL, crash) takes the thread with it; its
 *   locks expire after `lockDurationMs` and the jobs run again elsewhere;
 * - a job is renewed until its timeout plus one lock time at most. Past
 *   that, with the event loop still silent for more than a lock time, the
 *   handler will not give the loop back: the thread ends the process
 *   (SIGKILL) so that its supervisor starts a fresh one and other workers
 *   re-run its jobs. A job is thus never left `active` for ever;
 * - renewing, it also reads the job's cancel field, so a cancel whose
 *   pub/sub message was lost still stops the job;
 * - a job the worker took from Redis but had not named to the keeper yet
 *   (the loop blocked in between) is found by its lock token: while the
 *   event loop is silent, the thread also renews every active job whose
 *   lock token is one of this process's BullMQ workers'.
 * BullMQ's own renewal goes on beside it; a lock renewed twice is harmless.
 */
export class LockKeeper {
  private thread?: Worker;
  private beat?: NodeJS.Timeout;
  /** Messages for the thread, sent together once per turn of the loop: one postMessage, not two per job. */
  private outbox: object[] = [];

  constructor(private readonly options: LockKeeperOptions) {}

  /** Starts the thread; resolves once it is ready to take locks. */
  async start(): Promise<void> {
    const { redisUrl, lockDurationMs, cancelField, log } = this.options;
    const root = packageRoot();
    const thread = new Worker(join(root, 'src', 'engine', 'lock-keeper-thread.mjs'), {
      workerData: {
        redisUrl,
        connectionEntry: join(root, 'src', 'redis', 'connection.ts'),
        lockDurationMs,
        renewEveryMs: Math.max(50, Math.floor(lockDurationMs / 4)),
        cancelField,
      },
    });
    thread.on('error', (err) => log.error({ err }, 'lock keeper thread failed; locks renewed on the event loop only'));
    thread.on('message', (message: { kind: string; jobId?: string }) => {
      if (message.kind === 'cancel' && message.jobId) this.options.onCancel(message.jobId);
    });

    await new Promise<void>((resolve, reject) => {
      const onReady = (message: { kind: string }) => {
        if (message.kind !== 'ready') return;
        thread.off('message', onReady);
        thread.off('error', reject);
        resolve();
      };
      thread.on('message', onReady);
      thread.once('error', reject);
    });
    // Neither the thread nor its beat may keep a stopping process alive.
    thread.unref();
    this.thread = thread;
    this.beat = setInterval(() => thread.postMessage({ kind: 'beat' }), Math.min(BEAT_MS, lockDurationMs / 4));
    this.beat.unref();
  }

  /** Names a BullMQ worker of this process, for the jobs it takes while the loop is blocked. */
  watch(queue: WatchedQueue): void {
    this.send({ kind: 'watch', queue });
  }

  /**
   * A job that blocks the loop before this reaches the thread is still kept:
   * the thread finds it by its lock token (see above).
   */
  hold(lock: HeldLock): void {
    this.send({ kind: 'hold', lock });
  }

  release(lockKey: string): void {
    this.send({ kind: 'release', lockKey });
  }

  /** Lets go of every lock of one BullMQ worker (one being replaced: its jobs must be free to stall). */
  releaseOwner(owner: string): void {
    this.send({ kind: 'release-owner', owner });
  }

  private send(message: object): void {
    if (!this.thread) return;
    if (!this.outbox.length) setImmediate(() => this.flush());
    this.outbox.push(message);
  }

  private flush(): void {
    const messages = this.outbox;
    this.outbox = [];
    if (messages.length) this.thread?.postMessage({ kind: 'batch', messages });
  }

  async close(): Promise<void> {
    clearInterval(this.beat);
    const thread = this.thread;
    this.thread = undefined;
    // Ending the thread closes its connection; the locks it held simply stop being renewed here.
    await thread?.terminate();
  }
}
