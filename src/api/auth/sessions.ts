import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { sha256, type ApiKey } from './key-store.ts';

/** The dashboard's login cookie. */
export const SESSION_COOKIE = 'tm_session';
/** The header an action sent with the session cookie must carry. */
export const CSRF_HEADER = 'x-csrf-token';

/** What a session remembers: which key logged in, never the key itself. */
export interface Session {
  /** Hex SHA-256 of the API key; the key is looked up on every request, so revoking it ends the session. */
  keyHash: string;
  keyName: string;
  /** Sent back by the page with every action; a cross-site form cannot know it. */
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Dashboard logins, kept in Redis so that every API process accepts a
 * session made by another. The cookie holds a random token; Redis holds
 * only its hash.
 */
export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  /** Opens a session for `key`; returns the cookie token and the session. */
  async create(key: ApiKey, keyHashHex: string): Promise<{ token: string; session: Session }> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      keyHash: keyHashHex,
      keyName: key.name,
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    await this.redis.set(this.keyOf(token), JSON.stringify(session), 'PX', this.ttlMs);
    return { token, session };
  }

  async find(token: string): Promise<Session | undefined> {
    if (!token || token.length > 100) return undefined;
    const raw = await this.redis.get(this.keyOf(token));
    return raw ? (JSON.parse(raw) as Session) : undefined;
  }

  async delete(token: string): Promise<void> {
    await this.redis.del(this.keyOf(token));
  }

  private keyOf(token: string): string {
    return this.keys.session(sha256(token).toString('hex'));
  }
}

/** Compares a sent CSRF token with the session's in constant time. */
export function csrfMatches(session: Session, sent: string | undefined): boolean {
  if (!sent) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}
