import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, Scope } from '../../config/index.ts';

export interface ApiKey {
  name: string;
  /** sha256 of the key, raw bytes. */
  hash: Buffer;
  scopes: Scope[];
}

/**
 * The API keys this process accepts. Keys are held only as SHA-256 hashes and
 * compared in constant time. With no keys configured, the first start makes
 * one with the `admin` scope, keeps its hash under the data folder and prints
 * the key once.
 */
export class KeyStore {
  private constructor(private readonly keys: ApiKey[]) {}

  static open(config: Config, announce: (key: string, file: string) => void): KeyStore {
    if (config.api.keys.length) {
      return new KeyStore(
        config.api.keys.map((k) => ({
          name: k.name,
          hash: k.key ? sha256(k.key) : Buffer.from(k.keyHash!.slice('sha256:'.length), 'hex'),
          scopes: k.scopes,
        })),
      );
    }
    return new KeyStore([generatedKey(config.dataDir, announce)]);
  }

  /** The key a bearer token matches, or undefined. Every key is compared. */
  find(token: string): ApiKey | undefined {
    const digest = sha256(token);
    let found: ApiKey | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.hash)) found = key;
    }
    return found;
  }
}

/** `admin` holds every scope. */
export function hasScope(key: ApiKey, scope: Scope): boolean {
  return key.scopes.includes(scope) || key.scopes.includes('admin');
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function generatedKey(dataDir: string, announce: (key: string, file: string) => void): ApiKey {
  const file = join(dataDir, 'api-keys.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { name: string; keyHash: string; scopes: Scope[] };
    return { name: stored.name, hash: Buffer.from(stored.keyHash.slice('sha256:'.length), 'hex'), scopes: stored.scopes };
  }

  const key = `tm_${randomBytes(24).toString('base64url')}`;
  const stored = { name: 'generated-admin', keyHash: `sha256:${sha256(key).toString('hex')}`, scopes: ['admin'] as Scope[] };
  mkdirSync(dataDir, { recursive: true });
  // `wx`: when two processes start at once only one writes; the other reads it back.
  try {
    writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
    chmodSync(file, 0o600);
  } catch {
    return generatedKey(dataDir, announce);
  }
  announce(key, file);
  return { name: stored.name, hash: sha256(key), scopes: stored.scopes };
}
