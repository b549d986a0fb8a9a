import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.ts';
import { createLogger, startRuntime, ValidationError, type Runtime } from '../../engine/index.ts';
import { isPriority, PRIORITIES } from '../../core/index.ts';
import { CliError } from './cli-error.ts';

/** `enqueue TYPE --data JSON [options]`: stores a job through the engine directly. */
export async function runEnqueue(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: 'string', default: '{}' },
      priority: { type: 'string' },
      queue: { type: 'string' },
      'delay-ms': { type: 'string' },
      retries: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'idempotency-key': { type: 'string' },
      tenant: { type: 'string' },
    },
  });
  const type = positionals[0];
  if (!type) throw new CliError('usage: taskmaster enqueue TYPE --data JSON');

  let payload: unknown;
  try {
    payload = JSON.parse(values.data!);
  } catch (err) {
    throw new CliError(`--data is not valid JSON: ${(err as Error).message}`);
  }

  const submission = {
    type,
    payload,
    priority: values.priority,
    queue: values.queue,
    delayMs: integer(values['delay-ms'], '--delay-ms'),
    retries: integer(values.retries, '--retries'),
    timeoutMs: integer(values['timeout-ms'], '--timeout-ms'),
    idempotencyKey: values['idempotency-key'],
    tenant: values.tenant,
  };

  return withRuntime(async (runtime) => {
    try {
      const submitted = await runtime.producer.submit(dropUndefined(submission), 'cli');
      process.stdout.write(`${JSON.stringify(submitted)}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const issue of err.issues) process.stderr.write(`${issue.field}: ${issue.message}\n`);
      return 1;
    }
  });
}

/** `job ID [--priority P]`: prints a job as JSON, or changes its priority class first. */
export async function runJob(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { priority: { type: 'string' } } });
  const id = positionals[0];
  if (!id) throw new CliError('usage: taskmaster job ID [--priority critical|high|normal|low]');
  const priority = values.priority;
  if (priority !== undefined && !isPriority(priority)) throw new CliError(`--priority must be one of ${PRIORITIES.join(', ')}, got ${priority}`);

  return withRuntime(async (runtime) => {
    try {
      if (priority) {
        const change = await runtime.control.changePriority(id, priority, 'cli');
        await runtime.audit.record({ actor: 'cli', action: 'job.priority', jobId: id, details: { from: change.from, to: change.priority } });
        process.stdout.write(`${JSON.stringify(change)}\n`);
        return 0;
      }
      process.stdout.write(`${JSON.stringify(await runtime.jobs.get(id), null, 2)}\n`);
      return 0;
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError' && (err as Error).name !== 'ConflictError') throw err;
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
  });
}

/** `queues`: prints every queue's counts by state, class and tenant, with its weights. */
export async function runQueues(): Promise<number> {
  return withRuntime(async (runtime) => {
    process.stdout.write(`${JSON.stringify(await runtime.metrics.queueSummaries(), null, 2)}\n`);
    return 0;
  });
}

/** Runs `work` against a runtime without workers, then stops it. */
export async function withRuntime(work: (runtime: Runtime) => Promise<number>): Promise<number> {
  const config = loadConfig();
  const runtime = await startRuntime({ config, workers: false, log: createLogger('warn', {}, 'stderr'), oneShot: true });
  try {
    return await work(runtime);
  } finally {
    await runtime.stop();
  }
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new CliError(`${flag} must be a whole number, got ${value}`);
  return n;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
