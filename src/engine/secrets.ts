import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PermanentError } from '../core/index.ts';
import { SECRET_MARK } from '../sdk/secret.ts';

/** A location in a payload: object keys and array indexes from the root. */
export type PayloadPath = (string | number)[];

/** What a secret field shows outside the worker. */
export const MASK = '[secret]';

const PREFIX = 'tmenc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts and decrypts secret payload fields with AES-256-GCM under the
 * configured key. Each value gets a fresh IV; the tag makes a tampered or
 * foreign value fail to open instead of decrypting to garbage.
 */
export class SecretBox {
  private readonly key: Buffer;

  /** @param key 32 bytes, base64 (`openssl rand -base64 32`). */
  constructor(key: string) {
    this.key = Buffer.from(key, 'base64');
    if (this.key.length !== 32) throw new Error('secrets.key must be 32 bytes, base64-encoded');
  }

  seal(value: unknown): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: unknown): unknown {
    if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX)) throw unreadable('a secret field is not encrypted');
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      return JSON.parse(text);
    } catch {
      // Wrong key or altered data; the reason would only help an attacker.
      throw unreadable('a secret field cannot be decrypted with the configured secrets.key');
    }
  }
}

/**
 * Where `value` holds fields its schema marks with `secret()`. Walks zod's
 * schema tree (objects, arrays, records, tuples, unions, optional, nullable,
 * default, pipe, lazy) alongside the value.
 */
export function secretPaths(schema: unknown, value: unknown, path: PayloadPath = []): PayloadPath[] {
  if (value === undefined || schema === null || typeof schema !== 'object') return [];
  if ((schema as Record<symbol, unknown>)[SECRET_MARK]) return [path];

  const def = (schema as { _zod?: { def?: Record<string, any> } })._zod?.def;
  if (!def) return [];
  const inside = (child: unknown, key: string | number) => secretPaths(child, (value as any)?.[key], [...path, key]);

  switch (def.type) {
    case 'object':
      return isObject(value) ? Object.keys(def.shape).flatMap((key) => inside(def.shape[key], key)) : [];
    case 'array':
      return Array.isArray(value) ? value.flatMap((_, i) => inside(def.element, i)) : [];
    case 'tuple':
      return Array.isArray(value) ? (def.items as unknown[]).flatMap((item, i) => inside(item, i)) : [];
    case 'record':
      return isObject(value) ? Object.keys(value).flatMap((key) => inside(def.valueType, key)) : [];
    case 'union': {
      const match = (def.options as { safeParse(v: unknown): { success: boolean } }[]).find((o) => o.safeParse(value).success);
      return match ? secretPaths(match, value, path) : [];
    }
    case 'intersection':
      return [...secretPaths(def.left, value, path), ...secretPaths(def.right, value, path)];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return secretPaths(def.innerType, value, path);
    case 'pipe':
      return secretPaths(def.in, value, path);
    case 'lazy':
      return secretPaths(def.getter(), value, path);
    default:
      return [];
  }
}

/** A copy of `payload` with the value at each path replaced by `replace(value)`. */
export function mapPaths(payload: unknown, paths: PayloadPath[], replace: (value: unknown) => unknown): unknown {
  if (!paths.length) return payload;
  const copy = structuredClone(payload);
  for (const path of paths) {
    if (!path.length) return replace(copy);
    let parent: any = copy;
    for (const key of path.slice(0, -1)) parent = parent?.[key];
    const last = path[path.length - 1];
    if (parent && typeof parent === 'object' && Object.hasOwn(parent, last)) parent[last] = replace(parent[last]);
  }
  return copy;
}

/**
 * An edited payload for a replay: where it still holds the mask at a secret
 * path (the editor left the field as shown), the stored value is put back.
 */
export function unmaskEdited(edited: unknown, stored: unknown, paths: PayloadPath[] | undefined): unknown {
  let out = edited;
  for (const path of paths ?? []) out = mapPaths(out, [path], (v) => (v === MASK ? valueAt(stored, path) : v));
  return out;
}

function valueAt(payload: unknown, path: PayloadPath): unknown {
  let value: any = payload;
  for (const key of path) value = value?.[key];
  return value;
}

/** The payload as the API and dashboard show it: secret fields masked. */
export function maskPayload(payload: unknown, paths: PayloadPath[] | undefined): unknown {
  return paths?.length ? mapPaths(payload, paths, () => MASK) : payload;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unreadable(message: string): PermanentError {
  return new PermanentError(message, { reason: 'secret_unreadable' });
}
