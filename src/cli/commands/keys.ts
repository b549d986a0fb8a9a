import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { KeyStore, keyHash, type ApiKey } from '../../api/auth/key-store.ts';
import { loadConfig, SCOPES, type Scope } from '../../config/index.ts';
import { createLogger, startRuntime, type Runtime } from '../../engine/index.ts';
import { CliError } from './cli-error.ts';

const USAGE = `usage: taskmaster keys <create|list|revoke|hash>

  create --name N --scopes submit,read[,admin]   make a key; prints it once
         [--job-types a.b,c.d] [--tenants t1,t2]  limit what it may submit
         [--per-second N --burst N]               its own submission rate limit
  list                                           every key (never the key itself)
  revoke ID                                      stop a key at once, on every process
  hash KEY                                       the sha256:<hex> form for api.keys[].keyHash`;

/** `keys ...`: manages API keys straight in Redis, recording each change in the audit log. */
export async function runKeys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create':
      return create(rest);
    case 'list':
      return withKeys(async (keys) => {
        for (const key of await keys.list()) process.stdout.write(`${describe(key)}\n`);
        return 0;
      });
    case 'revoke':
      return revoke(rest[0]);
    case 'hash':
      if (!rest[0]) throw new CliError('usage: taskmaster keys hash KEY');
      process.stdout.write(`${keyHash(rest[0])}\n`);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return sub === undefined || sub === 'help' ? 0 : 2;
  }
}

async function create(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      'job-types': { type: 'string' },
      tenants: { type: 'string' },
      'per-second': { type: 'string' },
      burst: { type: 'string' },
    },
  });
  if (!values.name || !values.scopes) throw new CliError('usage: taskmaster keys create --name N --scopes submit,read');
  const scopes = list(values.scopes)!;
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new CliError(`unknown scopes ${unknown.join(', ')}; use ${SCOPES.join(', ')}`);
  const rateLimit = values['per-second'] ? { perSecond: positive(values['per-second'], '--per-second'), burst: positive(values.burst ?? values['per-second'], '--burst') } : undefined;

  return withKeys(async (keys, runtime) => {
    const input = { name: values.name!, scopes: scopes as Scope[], jobTypes: list(values['job-types']), tenants: list(values.tenants), rateLimit };
    const made = await keys.create(input, actor()).catch((err: Error) => {
      throw err.name === 'KeyConflictError' ? new CliError(err.message) : err;
    });
    await runtime.audit.record({
      actor: actor(),
      action: 'key.create',
      target: made.record.id,
      details: { name: input.name, scopes: input.scopes, jobTypes: input.jobTypes, tenants: input.tenants },
    });
    process.stdout.write(`${describe(made.record)}\n\n  ${made.key}\n\nKeep it: it is not shown again.\n`);
    return 0;
  });
}

async function revoke(id: string | undefined): Promise<number> {
  if (!id) throw new CliError('usage: taskmaster keys revoke ID');
  return withKeys(async (keys, runtime) => {
    const revoked = await keys.revoke(id).catch((err: Error) => {
      throw err.name === 'KeyConflictError' ? new CliError(err.message) : err;
    });
    if (!revoked) throw new CliError(`no API key ${id}`);
    await runtime.audit.record({ actor: actor(), action: 'key.revoke', target: id, details: { name: revoked.name } });
    process.stdout.write(`revoked ${id} (${revoked.name})\n`);
    return 0;
  });
}

async function withKeys(work: (keys: KeyStore, runtime: Runtime) => Promise<number>): Promise<number> {
  // Keys need Redis only: skip loading plugins, which can take seconds.
  const loaded = loadConfig();
  const config = { ...loaded, plugins: { ...loaded.plugins, builtins: false, dirs: [], packages: [] } };
  const runtime = await startRuntime({ config, workers: false, log: createLogger('warn', {}, 'stderr'), oneShot: true });
  try {
    return await work(new KeyStore(runtime.redis, runtime.keys, config), runtime);
  } finally {
    await runtime.stop();
  }
}

function describe(key: ApiKey): string {
  const limits = [key.jobTypes && `types=${key.jobTypes.join(',')}`, key.tenants && `tenants=${key.tenants.join(',')}`];
  return [key.id, key.name, key.scopes.join(','), ...limits.filter(Boolean), key.source].join('\t');
}

function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    // No user entry (some containers): the command line is still the actor.
    return 'cli';
  }
}

function list(value: string | undefined): string[] | undefined {
  const items = value?.split(',').map((s) => s.trim()).filter(Boolean);
  return items?.length ? items : undefined;
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag} must be a positive number, got ${value}`);
  return n;
}
