// A worker thread that runs attempts of `isolated` job types of one plugin
// version, one attempt at a time; the worker keeps it warm between attempts
// and ends it when an attempt is aborted or it has been idle a while. Plain
// JavaScript so that it starts the same way from the sources, the tests and
// the built server; the plugin, the SDK and the HTTP client load through jiti.
import { parentPort, workerData } from 'node:worker_threads';
import { createJiti } from 'jiti';

const { moduleEntry, sdkEntry, outboundEntry, guardEntry, outboundAllow } = workerData;
const jiti = createJiti(import.meta.url, { alias: { 'taskmaster/sdk': sdkEntry } });
const loading = Promise.all([
  jiti.import(moduleEntry, { default: true }),
  jiti.import(outboundEntry),
  // The same outbound rules as on the worker's own event loop: an isolated handler gets no way around them.
  jiti.import(guardEntry).then(({ OutboundGuard }) => new OutboundGuard(outboundAllow)),
]);

let current;
const pending = new Map();
let nextId = 0;

parentPort.on('message', (message) => {
  if (message.kind === 'run') {
    void run(message);
  } else if (message.kind === 'abort' && current) {
    current.abort(Object.assign(new Error(message.reason.message), { name: message.reason.name }));
  } else if (message.kind === 'ack') {
    pending.get(message.id)?.();
    pending.delete(message.id);
  } else if (message.kind === 'reply') {
    const call = calls.get(message.id);
    calls.delete(message.id);
    if (!call) return;
    if (message.error) call.reject(Object.assign(new Error(message.error.message), message.error));
    else call.resolve(proxyOf(message.value));
  }
});

/**
 * The engine's services (files, notifications, checkpoint, submit, ...) stay
 * in the worker; here each is a stand-in whose methods send the call over and
 * wait for its answer. Arguments and results must be plain data; a result
 * with methods of its own (a file draft) comes back as another stand-in.
 */
const calls = new Map();
let nextCall = 0;

function callRemote(remote, method, args) {
  return new Promise((resolve, reject) => {
    const id = nextCall++;
    calls.set(id, { resolve, reject });
    parentPort.postMessage({ kind: 'call', id, remote, method, args: plain(args) });
  });
}

function proxyOf(value) {
  if (!value || typeof value !== 'object' || value.__remote === undefined) return value;
  if (value.methods === null) return (...args) => callRemote(value.__remote, null, args);
  const proxy = { ...value.fields };
  for (const method of value.methods) proxy[method] = (...args) => callRemote(value.__remote, method, args);
  return proxy;
}

async function run({ type, payload, context, services, breakers, databases }) {
  const controller = new AbortController();
  current = controller;
  try {
    const [plugin, { createHttpClient }, guard] = await loading;
    const definition = plugin?.jobs?.[type];
    if (!definition) {
      throw Object.assign(new Error(`job type ${type} is not in ${moduleEntry}`), { name: 'PermanentError' });
    }

    const ctx = {
      ...context,
      ...Object.fromEntries(Object.entries(services).map(([name, remote]) => [name, proxyOf(remote)])),
      signal: controller.signal,
      log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
      progress: (value) =>
        new Promise((resolve) => {
          const id = nextId++;
          pending.set(id, resolve);
          parentPort.postMessage({ kind: 'progress', id, value: plain(value) });
        }),
      http: createHttpClient({ guard, signal: controller.signal, breakers: proxyOf(breakers) }),
      db: databaseOf(proxyOf(databases)),
    };
    const value = await definition.handler(payload, ctx);
    parentPort.postMessage({ kind: 'done', value: plain(value) });
  } catch (err) {
    parentPort.postMessage({ kind: 'failed', error: serializeError(err) });
  } finally {
    current = undefined;
  }
}

/**
 * `ctx.db(name)` as the SDK describes it, over the worker's database bridge:
 * queries, a stream read in batches, and a transaction begun, used and
 * ended by number (committed when `work` resolves, rolled back when it throws).
 */
function databaseOf(bridge) {
  return (name) => ({
    query: (sql, params) => bridge.query(name, sql, params),
    stream: (sql, params, options) => ({
      async *[Symbol.asyncIterator]() {
        const id = await bridge.openStream(name, sql, params, options);
        let done = false;
        try {
          while (!done) {
            const batch = await bridge.nextRows(id);
            done = batch.done;
            yield* batch.rows;
          }
        } finally {
          if (!done) await bridge.closeStream(id);
        }
      },
    }),
    transaction: async (work) => {
      const id = await bridge.begin(name);
      let result;
      try {
        result = await work({ query: (sql, params) => bridge.txQuery(id, sql, params) });
      } catch (err) {
        await bridge.end(id, false);
        throw err;
      }
      await bridge.end(id, true);
      return result;
    },
  });
}

function log(level) {
  return (obj, msg) => parentPort.postMessage({ kind: 'log', level, obj: plain(obj), msg });
}

function plain(value) {
  try {
    return structuredClone(value);
  } catch {
    // Not cloneable (functions, sockets, ...): what JSON keeps is what BullMQ would store anyway.
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }
}

function serializeError(err) {
  if (typeof err !== 'object' || err === null) return { name: 'Error', message: String(err) };
  return {
    name: typeof err.name === 'string' ? err.name : 'Error',
    message: String(err.message ?? err),
    stack: err.stack,
    retryAfterMs: err.retryAfterMs,
    reason: err.reason,
    timeoutMs: err.timeoutMs,
    downstream: err.downstream,
  };
}
