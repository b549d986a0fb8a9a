import { createHash, randomBytes } from 'node:crypto';

/**
 * Job ids carry their queue (`default.k3x9...`) so that any process can find
 * a job from its id alone, without an index to keep in step.
 */
export function newJobId(queue: string): string {
  const time = Date.now().toString(36);
  return `${queue}.${time}${randomBytes(8).toString('hex')}`;
}

/** The id an idempotency key maps to: the same key always lands on one id. */
export function idempotentJobId(queue: string, tenant: string | undefined, key: string): string {
  const digest = createHash('sha256').update(`${tenant ?? ''}\u0000${key}`).digest('base64url');
  return `${queue}.k${digest.slice(0, 32)}`;
}

/** The queue a job id belongs to, or undefined for an id we did not make. */
export function queueOfJobId(id: string): string | undefined {
  const dot = id.indexOf('.');
  return dot > 0 ? id.slice(0, dot) : undefined;
}

export function newSubmissionId(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * A user id for in-app notifications: letters, digits and `_ . @ : -`, at
 * most 128. Braces are excluded because they would break the Redis hash tag.
 */
export const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
