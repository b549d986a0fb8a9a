import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../config/index.ts';
import { hashPluginFiles } from '../plugins/hash.ts';
import type { JobTypeEntry } from '../plugins/index.ts';
import type { HandlerContext } from '../sdk/types.ts';
import { DatabaseBridge } from './isolated-db.ts';
import type { HostBreakers } from './outbound.ts';

/** How long an aborted isolated handler may take to wind down before its thread is ended. */
const ABORT_GRACE_MS = 1000;
/** A warm thread unused this long is ended; its plugin version's code goes with it. */
const IDLE_MS = 10_000;

/** The thread an isolated handler ran in ended without an answer (crash, `process.exit`, out of memory). */
export class IsolatedThreadExit extends Error {
  override name = 'IsolatedThreadExit';
}

/** Idle warm threads by plugin version (`<module>#<hash>`); a thread's outbound rules are the process's. */
const idle = new Map<string, Worker[]>();

/**
 * Runs one attempt of an `isolated` job type in a worker thread. The
 * worker's event loop stays free, so BullMQ keeps renewing the job's lock
 * however long the handler computes, and a thread that never yields is
 * simply ended. Errors come back by name with their fields (`retryAfterMs`,
 * `reason`), which is all the worker matches on; progress and log calls are
 * forwarded to the job's own. A thread serves one plugin version, one
 * attempt at a time, and is reused while warm: loading a plugin's TypeScript
 * in a fresh thread costs about a second.
 */
export function runIsolated(
  entry: JobTypeEntry,
  options: { sdkEntry: string; outboundAllow: readonly string[]; breakers?: HostBreakers },
  payload: unknown,
  ctx: HandlerContext,
): Promise<unknown> {
  const pool = `${moduleOf(entry)}#${entry.plugin.hash}`;
  const thread = takeThread(pool, options.sdkEntry, options.outboundAllow);
  const remotes = new RemoteTable();
  const databases = new DatabaseBridge(ctx.db);
  const services = Object.fromEntries(
    Object.entries(ctx)
      .filter(([name, value]) => !LOCAL_CONTEXT.has(name) && value !== undefined)
      .map(([name, value]) => [name, remotes.describe(value)]),
  );
  thread.postMessage({
    kind: 'run',
    type: entry.type,
    payload,
    services,
    // The thread's `ctx.http` asks the worker's breakers, which live in Redis, over the channel.
    breakers: options.breakers ? remotes.describe(options.breakers) : undefined,
    // Its `ctx.db` is made there too, calling the worker's connections by number.
    databases: remotes.describe(databases.remote()),
    context: {
      jobId: ctx.jobId,
      type: ctx.type,
      attempt: ctx.attempt,
      tenant: ctx.tenant,
      idempotencyKey: ctx.idempotencyKey,
      config: ctx.config,
    },
  });

  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (reusable: boolean, done: () => void) => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener('abort', onAbort);
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
      if (reusable) giveBack(pool, thread);
      else void thread.terminate();
      // Whatever the handler left open (a transaction, a stream) ends with its attempt.
      void databases.close();
      done();
    };

    const onAbort = () => {
      const reason = ctx.signal.reason as Error | undefined;
      thread.postMessage({ kind: 'abort', reason: { name: reason?.name ?? 'AbortError', message: reason?.message ?? 'aborted' } });
      // A handler that ignores its signal, or never yields, is ended all the same; its thread is not reused.
      setTimeout(() => settle(false, () => reject(reason)), ABORT_GRACE_MS).unref();
    };
    const onMessage = (message: ThreadMessage) => {
      switch (message.kind) {
        case 'done':
          return settle(!ctx.signal.aborted, () => resolve(message.value));
        case 'failed':
          return settle(!ctx.signal.aborted, () => reject(revive(message.error)));
        case 'progress':
          ctx.progress(message.value).then(
            () => thread.postMessage({ kind: 'ack', id: message.id }),
            () => thread.postMessage({ kind: 'ack', id: message.id }),
          );
          return;
        case 'log':
          ctx.log[message.level]?.(message.obj ?? {}, message.msg);
          return;
        case 'call': {
          const reply = (answer: { value?: unknown; error?: SerializedError }) => {
            try {
              thread.postMessage({ kind: 'reply', id: message.id, ...answer });
            } catch (err) {
              // A result that cannot cross to the thread fails the call, not the worker.
              thread.postMessage({ kind: 'reply', id: message.id, error: serialize(err as Error) });
            }
          };
          remotes.call(message.remote, message.method, message.args).then(
            (value) => reply({ value }),
            (err: Error) => reply({ error: serialize(err) }),
          );
          return;
        }
      }
    };
    const onError = (err: Error) => settle(false, () => reject(err));
    const onExit = (code: number) => settle(false, () => reject(new IsolatedThreadExit(`isolated handler thread exited with code ${code}`)));

    thread.on('message', onMessage);
    thread.on('error', onError);
    thread.on('exit', onExit);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Ends every warm thread (a stopping worker). */
export async function endIsolatedThreads(): Promise<void> {
  const threads = [...idle.values()].flat();
  idle.clear();
  await Promise.all(threads.map((t) => t.terminate()));
}

function takeThread(pool: string, sdkEntry: string, outboundAllow: readonly string[]): Worker {
  const warm = idle.get(pool)?.pop();
  if (warm) {
    clearTimeout((warm as WarmWorker).idleTimer);
    warm.ref();
    return warm;
  }
  const root = packageRoot();
  return new Worker(join(root, 'src', 'engine', 'isolated-thread.mjs'), {
    workerData: {
      moduleEntry: pool.slice(0, pool.lastIndexOf('#')),
      sdkEntry,
      outboundEntry: join(root, 'src', 'engine', 'outbound.ts'),
      guardEntry: join(root, 'src', 'engine', 'outbound-guard.ts'),
      outboundAllow: [...outboundAllow],
    },
  });
}

interface WarmWorker extends Worker {
  idleTimer?: NodeJS.Timeout;
}

function giveBack(pool: string, thread: WarmWorker): void {
  const threads = idle.get(pool) ?? [];
  threads.push(thread);
  idle.set(pool, threads);
  // An idle thread must not keep the process alive, nor its plugin version's code for ever.
  thread.unref();
  thread.idleTimer = setTimeout(() => {
    const left = (idle.get(pool) ?? []).filter((t) => t !== thread);
    if (left.length) idle.set(pool, left);
    else idle.delete(pool);
    void thread.terminate();
  }, IDLE_MS);
  thread.idleTimer.unref();
}

/** Context fields the thread makes for itself; every other one is an engine service it calls over. */
const LOCAL_CONTEXT = new Set(['jobId', 'type', 'attempt', 'signal', 'log', 'progress', 'tenant', 'idempotencyKey', 'config', 'http', 'db']);

/** A value the thread sees as a stand-in: plain fields copied, methods called over the channel. */
interface RemoteValue {
  __remote: number;
  fields: Record<string, unknown>;
  /** Null for a function called as is. */
  methods: string[] | null;
}

/** The worker-side objects an isolated attempt may call, by number; dropped with the attempt. */
class RemoteTable {
  private readonly objects = new Map<number, unknown>();

  describe(value: unknown): unknown {
    if (typeof value === 'function') {
      this.objects.set(this.objects.size, value);
      return { __remote: this.objects.size - 1, fields: {}, methods: null } satisfies RemoteValue;
    }
    if (!value || typeof value !== 'object') return value;
    const methods = methodNames(value);
    if (!methods.length) return value;

    const id = this.objects.size;
    this.objects.set(id, value);
    const fields = Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v !== 'function' && cloneable(v)));
    return { __remote: id, fields, methods } satisfies RemoteValue;
  }

  async call(remote: number, method: string | null, args: unknown[]): Promise<unknown> {
    const target = this.objects.get(remote) as any;
    if (target === undefined) throw new Error(`no such service object ${remote}`);
    const result = method === null ? await target(...args) : await target[method](...args);
    return this.describe(result);
  }
}

/** Plain data a thread can receive; a service's internals (connections, clients) are not. */
function cloneable(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  try {
    structuredClone(value);
    return true;
  } catch {
    // Not plain data: the thread does without this field.
    return false;
  }
}

function methodNames(value: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = value; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name !== 'constructor' && typeof (value as any)[name] === 'function') names.add(name);
    }
  }
  return [...names];
}

function serialize(err: Error): SerializedError {
  return {
    name: err?.name ?? 'Error',
    message: String(err?.message ?? err),
    stack: err?.stack,
    retryAfterMs: (err as any)?.retryAfterMs,
    reason: (err as any)?.reason,
  };
}

type ThreadMessage =
  | { kind: 'call'; id: number; remote: number; method: string | null; args: unknown[] }
  | { kind: 'done'; value: unknown }
  | { kind: 'failed'; error: SerializedError }
  | { kind: 'progress'; id: number; value: number | object }
  | { kind: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj?: object; msg?: string };

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  retryAfterMs?: number;
  reason?: string;
  timeoutMs?: number;
  /** The host of a `BreakerOpenError`. */
  downstream?: string;
}

/** An error carrying the thread's name and fields: matched by name like any other. */
function revive(error: SerializedError): Error {
  const revived = new Error(error.message);
  revived.name = error.name;
  if (error.stack) revived.stack = error.stack;
  for (const field of ['retryAfterMs', 'reason', 'timeoutMs', 'downstream'] as const) {
    if (error[field] !== undefined) Object.assign(revived, { [field]: error[field] });
  }
  return revived;
}

/**
 * The module to load in the thread: the plugin's own files while they are
 * still this version's, else the copy kept of this version, so that a job
 * always runs the version it was started on.
 */
function moduleOf(entry: JobTypeEntry): string {
  const { source, archived, hash } = entry.plugin;
  if (!archived) return source.entry;
  try {
    return hashPluginFiles(source.root) === hash ? source.entry : archived.entry;
  } catch {
    // The plugin's files are gone (removed while the job waited): the kept copy is all there is.
    return archived.entry;
  }
}
