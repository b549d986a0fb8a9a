import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, packageRoot } from '../../config/index.ts';
import { createLogger, startRuntime, type Runtime } from '../../engine/index.ts';
import { CliError } from './cli-error.ts';
import { superviseWorkers } from './worker-processes.ts';

/**
 * `start` and `api`: runs the built Nitro server in this process, which boots
 * the runtime itself (see src/api/plugins/runtime.ts).
 */
export async function runServer(role: 'all' | 'api'): Promise<void> {
  const config = loadConfig();
  const entry = join(packageRoot(), '.output', 'server', 'index.mjs');
  if (!existsSync(entry)) throw new CliError('the HTTP server is not built; run `npm run build` first');

  process.env.TASKMASTER_ROLE = role;
  process.env.TASKMASTER_ROOT = packageRoot();
  process.env.NITRO_PORT = String(config.api.port);
  process.env.NITRO_HOST = config.api.host;
  process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
    // Nitro only logs a failed listen; a server that cannot listen must not stay up.
    if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') return;
    process.stderr.write(`taskmaster: cannot listen on ${config.api.host}:${config.api.port}: ${err.code}\n`);
    process.exit(1);
  });
  await import(pathToFileURL(entry).href);
}

/**
 * `worker`: runs workers without an HTTP server. The first SIGTERM or SIGINT
 * drains (running jobs finish within the drain limit); a second exits at once.
 * `--processes N` runs N such processes under a supervisor.
 */
export async function runWorker(args: string[]): Promise<number | void> {
  const { values } = parseArgs({ args, options: { queues: { type: 'string' }, processes: { type: 'string' } } });
  const config = loadConfig();
  const log = createLogger(config.log.level, { role: 'worker' });
  const queues = values.queues?.split(',').map((q) => q.trim()).filter(Boolean);

  // 1. `--processes N`: supervise N worker processes instead of running workers here.
  const processes = values.processes === undefined ? 1 : Number(values.processes);
  if (!Number.isInteger(processes) || processes < 1 || processes > 256) {
    throw new CliError(`--processes must be an integer from 1 to 256, got ${values.processes}`);
  }
  if (processes > 1) {
    return superviseWorkers(processes, values.queues ? ['--queues', values.queues] : [], log);
  }

  // 2. One worker process.
  // A handler's stray promise (neither awaited nor returned) that rejects must not end the
  // process and every other job with it; Node's default would exit.
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? { name: reason.name, message: reason.message } : reason }, 'unhandled rejection; the worker goes on');
  });

  // Signals are handled from the start: one that comes while the runtime still starts
  // stops it as soon as it is up, instead of killing the process mid-start.
  let runtime: Runtime | undefined;
  let stopping = false;
  const stop = () =>
    runtime!.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  const onSignal = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, drainTimeoutMs: config.worker.drainTimeoutMs }, 'draining workers');
    if (runtime) void stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Run by a supervisor (`--processes`): drain when it goes away, never linger orphaned.
  process.on('disconnect', () => onSignal('disconnect'));

  runtime = await startRuntime({ config, workers: true, queues, log });
  if (stopping) void stop();
}
