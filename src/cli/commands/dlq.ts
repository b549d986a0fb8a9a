import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { DeadLetterFilter, Runtime } from '../../engine/index.ts';
import { progressBar } from '../progress.ts';
import { CliError } from './cli-error.ts';
import { withRuntime } from './jobs.ts';

const USAGE = `usage: taskmaster dlq <list|show|replay|purge> [options]

  list [filters] [--limit N] [--cursor C]   entries, newest first
  show ID                                   one entry with its attempts and replays
  replay ID [--payload JSON] [--again]      replay one entry as a new job
  replay --all | [filters]                  replay every matching entry not replayed yet
  purge --all | [filters]                   delete every matching entry

filters: --type T --queue Q --tenant T --error TEXT --reason R --from TIME --to TIME
(TIME: ms since the epoch or an ISO 8601 date)`;

const FILTER_OPTIONS = {
  type: { type: 'string' },
  queue: { type: 'string' },
  tenant: { type: 'string' },
  error: { type: 'string' },
  reason: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  all: { type: 'boolean' },
} as const;

/** `dlq list|show|replay|purge`: the DLQ from the shell, through the engine. */
export async function runDlq(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list':
      return list(rest);
    case 'show':
      return show(rest);
    case 'replay':
      return replay(rest);
    case 'purge':
      return purge(rest);
    default:
      process.stderr.write(`${USAGE}\n`);
      return sub === undefined || sub === 'help' ? 0 : 2;
  }
}

async function list(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...FILTER_OPTIONS, limit: { type: 'string' }, cursor: { type: 'string' } } });
  const filter = filterFrom(values);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new CliError(`--limit must be a positive whole number, got ${values.limit}`);

  return withRuntime(async (runtime) => {
    const page = await runtime.dlq.list(filter, { limit, cursor: values.cursor });
    for (const e of page.entries) {
      process.stdout.write(`${e.id}\t${new Date(e.endedAt).toISOString()}\t${e.type}\t${e.reason}\t${e.error ?? ''}\n`);
    }
    if (page.nextCursor) process.stderr.write(`more: --cursor ${page.nextCursor}\n`);
    return 0;
  });
}

async function show(args: string[]): Promise<number> {
  const id = args[0];
  if (!id) throw new CliError('usage: taskmaster dlq show ID');
  return withRuntime(async (runtime) => {
    process.stdout.write(`${JSON.stringify(await runtime.dlq.get(id), null, 2)}\n`);
    return 0;
  });
}

async function replay(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...FILTER_OPTIONS, payload: { type: 'string' }, again: { type: 'boolean' } },
  });

  if (positionals[0]) {
    const payload = values.payload === undefined ? undefined : json(values.payload, '--payload');
    return withRuntime(async (runtime) => {
      const result = await runtime.control.replay(positionals[0], { payload, again: values.again, by: actor() });
      if (!result.duplicate) await runtime.audit.record({ actor: actor(), action: 'dlq.replay', target: result.entryId, jobId: result.jobId });
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    });
  }

  const filter = bulkFilter(values);
  return withRuntime(async (runtime) => {
    const bar = progressBar(await runtime.dlq.count(filter), 'replaying');
    const result = await runtime.control.replayMatching(filter, { by: actor(), onProgress: (n) => bar.update(n) });
    bar.finish(result.replayed + result.skipped);
    await runtime.audit.record({ actor: actor(), action: 'dlq.replay', details: { filter, ...result } });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  });
}

async function purge(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: FILTER_OPTIONS });
  const filter = bulkFilter(values);
  return withRuntime(async (runtime: Runtime) => {
    const bar = progressBar(await runtime.dlq.count(filter), 'purging');
    const purged = await runtime.dlq.purge(filter, (n) => bar.update(n));
    bar.finish(purged);
    await runtime.audit.record({ actor: actor(), action: 'dlq.purge', details: { filter, purged } });
    process.stdout.write(`${JSON.stringify({ purged })}\n`);
    return 0;
  });
}

/** A filter for bulk work: at least one criterion, or `--all` to mean everything. */
function bulkFilter(values: Record<string, string | boolean | undefined>): DeadLetterFilter {
  const filter = filterFrom(values);
  const empty = Object.values(filter).every((v) => v === undefined);
  if (empty && !values.all) throw new CliError('name a filter (--type, --tenant, ...) or pass --all for every entry');
  return filter;
}

function filterFrom(values: Record<string, string | boolean | undefined>): DeadLetterFilter {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  return Object.fromEntries(
    Object.entries({
      type: text('type'),
      queue: text('queue'),
      tenant: text('tenant'),
      error: text('error'),
      reason: text('reason'),
      from: time(text('from'), '--from'),
      to: time(text('to'), '--to'),
    }).filter(([, v]) => v !== undefined),
  ) as DeadLetterFilter;
}

function time(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new CliError(`${flag} must be ms since the epoch or an ISO 8601 date, got ${value}`);
  return ms;
}

function json(value: string, flag: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new CliError(`${flag} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Who acts, as the audit log names a command-line user. */
function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    // No user entry (some containers): still recorded, without a name.
    return 'cli:unknown';
  }
}
