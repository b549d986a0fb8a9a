import { useContext } from '../context.ts';
import { httpError } from '../http-error.ts';
import type { ApiKey } from './key-store.ts';
import { takeTokens } from './rate-limit.ts';

/**
 * Checks that `key` may submit these jobs: each job's type and tenant must be
 * among the key's `jobTypes` and `tenants` when it has such a list (403 naming
 * each refused field), and the key's rate limit must have room for all of
 * them (429 with `Retry-After`). Admin keys are not restricted by lists.
 * `prefix` names fields of a bulk submission (`jobs.3.type`).
 */
export async function checkSubmission(key: ApiKey, jobs: unknown[], prefix = ''): Promise<void> {
  // 1. What this key may submit.
  const refused = key.scopes.includes('admin') ? [] : jobs.flatMap((job, index) => refusals(key, job, prefix, index));
  if (refused.length) throw httpError(403, 'forbidden', 'this API key may not submit these jobs', refused);

  // 2. How fast it may.
  const { runtime } = await useContext();
  const limit = key.rateLimit ?? runtime.config.api.rateLimit;
  const decision = await takeTokens(runtime.redis, runtime.keys, key.id, limit, jobs.length);
  if (!decision.allowed) {
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    throw httpError(429, 'rate_limited', `this API key submits too fast; retry in ${seconds} s`, {
      retryAfterSeconds: seconds,
      limit,
    });
  }
}

function refusals(key: ApiKey, job: unknown, prefix: string, index: number) {
  const at = (field: string) => (prefix ? `${prefix}.${index}.${field}` : field);
  const fields = job && typeof job === 'object' ? (job as { type?: unknown; tenant?: unknown }) : {};
  const out: { field: string; message: string }[] = [];

  if (key.jobTypes && !key.jobTypes.includes(fields.type as string)) {
    out.push({ field: at('type'), message: `this key may submit only ${key.jobTypes.join(', ')}` });
  }
  if (key.tenants && !key.tenants.includes(fields.tenant as string)) {
    out.push({ field: at('tenant'), message: `this key may submit only for tenants ${key.tenants.join(', ')}` });
  }
  return out;
}
