import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config, Scope } from '../../config/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { UnavailableError } from '../../engine/index.ts';

/** How fast a key may submit jobs: a token bucket of `burst` jobs refilled at `perSecond`. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** An API key as the API knows it. The key itself is never kept, only its SHA-256. */
export interface ApiKey {
  /** Stable id: `cfg:<name>` for a configured key, `key_<hex>` for one made at run time. */
  id: string;
  /** Shown in logs, on jobs (`submittedBy`) and in the audit log. */
  name: string;
  scopes: Scope[];
  /** With `submit`: the only job types this key may submit. */
  jobTypes?: string[];
  /** With `submit`: the only tenants this key may submit for (jobs must name one). */
  tenants?: string[];
  /** Overrides `api.rateLimit` for this key. */
  rateLimit?: RateLimit;
  /** `config` keys come from the configuration and cannot be revoked at run time. */
  source: 'config' | 'stored';
  createdAt?: number;
  createdBy?: string;
}

/** What creating a key takes. */
export type NewApiKey = Pick<ApiKey, 'name' | 'scopes' | 'jobTypes' | 'tenants' | 'rateLimit'>;

export class KeyConflictError extends Error {
  override name = 'KeyConflictError';
}

/*
 * Stored keys live in three hashes sharing the `{apikeys}` hash tag:
 *   byhash: sha256 hex -> key record JSON (what authentication reads: one HGET)
 *   byid:   key id -> sha256 hex          (what revocation reads)
 *   byname: key name -> key id            (keeps names unique)
 *
 * createKey
 * KEYS  byhash, byid, byname
 * ARGV  hash hex, id, name, record JSON
 * Returns 1 when stored, 0 when the name is taken. Atomic: a crash leaves the
 * key either wholly stored or not at all.
 */
const CREATE_KEY = `
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
return 1
`;

/*
 * revokeKey
 * KEYS  byhash, byid, byname
 * ARGV  id
 * Returns the revoked record JSON, or false when no key has that id. Atomic:
 * once it returns, no process authenticates the key again.
 */
const REVOKE_KEY = `
local hash = redis.call('HGET', KEYS[2], ARGV[1])
if not hash then return false end
local record = redis.call('HGET', KEYS[1], hash)
redis.call('HDEL', KEYS[1], hash)
redis.call('HDEL', KEYS[2], ARGV[1])
if record then redis.call('HDEL', KEYS[3], cjson.decode(record).name) end
return record or false
`;

/*
 * bootstrapKey
 * KEYS  byhash, byid, byname, bootstrap marker
 * ARGV  hash hex, id, name, record JSON
 * Stores the first-start admin key unless a key was ever stored or generated
 * before. Returns 1 when this call stored it. Atomic, so of several processes
 * starting at once exactly one generates (and prints) a key.
 */
const BOOTSTRAP_KEY = `
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('HLEN', KEYS[1]) > 0 then return 0 end
redis.call('SET', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
return 1
`;

interface ConfiguredKey {
  hash: Buffer;
  key: ApiKey;
}

/**
 * The API keys every API process accepts: keys from the configuration, held
 * as SHA-256 hashes and compared in constant time, and keys made at run time
 * (`taskmaster keys create`, `POST /api/v1/keys`), kept as hashes in Redis and
 * read on every request, so a revoked key stops working on every process at
 * once. With no keys configured and none ever stored, the first start makes
 * an admin key, stores its hash and prints the key once.
 */
export class KeyStore {
  private readonly configured: ConfiguredKey[];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    config: Config,
  ) {
    this.configured = config.api.keys.map((k) => ({
      hash: k.key ? sha256(k.key) : Buffer.from(k.keyHash!.slice('sha256:'.length), 'hex'),
      key: dropUndefined({
        id: `cfg:${k.name}`,
        name: k.name,
        scopes: k.scopes,
        jobTypes: k.jobTypes,
        tenants: k.tenants,
        rateLimit: k.rateLimit,
        source: 'config' as const,
      }),
    }));
  }

  /**
   * With no configured keys, makes the first-start admin key unless one was
   * ever made; returns the key in clear text when this call made it.
   */
  async bootstrap(): Promise<string | undefined> {
    if (this.configured.length) return undefined;

    const secret = newSecret();
    const record = newRecord({ name: 'generated-admin', scopes: ['admin'] }, 'first start');
    const stored = await this.store(BOOTSTRAP_KEY, [this.keys.apiKeysBootstrap()], secret, record);
    return stored ? secret : undefined;
  }

  /** The key a bearer token belongs to, or undefined. Reads Redis every time: no stale cache. */
  async find(token: string): Promise<ApiKey | undefined> {
    return this.byDigest(sha256(token));
  }

  /** Makes a key; returns it in clear text (shown once) with its record. */
  async create(input: NewApiKey, createdBy: string): Promise<{ key: string; record: ApiKey }> {
    if (this.configured.some((c) => c.key.name === input.name)) {
      throw new KeyConflictError(`a configured key is already named ${input.name}`);
    }

    const secret = newSecret();
    const record = newRecord(input, createdBy);
    if (!(await this.store(CREATE_KEY, [], secret, record))) throw new KeyConflictError(`a key is already named ${input.name}`);
    return { key: secret, record };
  }

  /** Every key, configured ones first; never a key or its hash. */
  async list(): Promise<ApiKey[]> {
    const stored = Object.values(await redisCall(this.redis.hgetall(this.keys.apiKeys()))).map((raw) => JSON.parse(raw) as ApiKey);
    stored.sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
    return [...this.configured.map((c) => c.key), ...stored];
  }

  /**
   * Revokes a stored key at once. Returns its record, or undefined when no
   * stored key has that id; a configured key throws `KeyConflictError`.
   */
  async revoke(id: string): Promise<ApiKey | undefined> {
    if (this.configured.some((c) => c.key.id === id)) {
      throw new KeyConflictError(`key ${id} comes from the configuration; remove it there`);
    }
    const raw = await redisCall(
      this.redis.eval(REVOKE_KEY, 3, this.keys.apiKeys(), this.keys.apiKeyIds(), this.keys.apiKeyNames(), id),
    );
    return typeof raw === 'string' ? (JSON.parse(raw) as ApiKey) : undefined;
  }

  /**
   * The key whose SHA-256 is `hashHex`, as a dashboard session remembers it.
   * Read like `find`, so revoking a key ends its sessions too.
   */
  async findByHash(hashHex: string): Promise<ApiKey | undefined> {
    const digest = Buffer.from(hashHex, 'hex');
    return digest.length === 32 ? this.byDigest(digest) : undefined;
  }

  /** Runs a script that stores a new key's record; true when it stored it. */
  private async store(script: string, extraKeys: string[], secret: string, record: ApiKey): Promise<boolean> {
    const keys = [this.keys.apiKeys(), this.keys.apiKeyIds(), this.keys.apiKeyNames(), ...extraKeys];
    const stored = await redisCall(this.redis.eval(script, keys.length, ...keys, hex(secret), record.id, record.name, JSON.stringify(record)));
    return stored === 1;
  }

  private async byDigest(digest: Buffer): Promise<ApiKey | undefined> {
    let found: ApiKey | undefined;
    // Every configured key is compared, so the time taken does not tell which one matched.
    for (const { hash, key } of this.configured) {
      if (timingSafeEqual(digest, hash)) found = key;
    }
    if (found) return found;

    const raw = await redisCall(this.redis.hget(this.keys.apiKeys(), digest.toString('hex')));
    return raw ? (JSON.parse(raw) as ApiKey) : undefined;
  }
}

/** `admin` holds every scope. */
export function hasScope(key: ApiKey, scope: Scope): boolean {
  return key.scopes.includes(scope) || key.scopes.includes('admin');
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** `sha256:<hex>`, the form `api.keys[].keyHash` takes. */
export function keyHash(key: string): string {
  return `sha256:${sha256(key).toString('hex')}`;
}

/** Runs a Redis call, turning its failure into `UnavailableError` (503). */
async function redisCall<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw new UnavailableError(`Redis cannot read or write API keys: ${(err as Error).message}`, { cause: err });
  }
}

function newSecret(): string {
  return `tm_${randomBytes(24).toString('base64url')}`;
}

function hex(secret: string): string {
  return sha256(secret).toString('hex');
}

function newRecord(input: NewApiKey, createdBy: string): ApiKey {
  return dropUndefined({
    id: `key_${randomBytes(8).toString('hex')}`,
    name: input.name,
    scopes: [...new Set(input.scopes)],
    jobTypes: input.jobTypes,
    tenants: input.tenants,
    rateLimit: input.rateLimit,
    source: 'stored' as const,
    createdAt: Date.now(),
    createdBy,
  });
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
