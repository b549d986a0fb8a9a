import { z, type HandlerContext } from '../../src/sdk/index.ts';

/** Results kept in the plugin's key-value store, read by `GET /api/v1/health-checks`. */
export const LATEST_KEY = 'health:latest';
export const HISTORY_KEY = 'health:history';
const HISTORY_KEPT = 50;

export const healthSchema = z.object({
  http: z
    .array(
      z.object({
        name: z.string().min(1).max(100),
        url: z.url({ protocol: /^https?$/ }),
        /** Healthy statuses; default any 2xx. */
        expectStatus: z.array(z.number().int().min(100).max(599)).optional(),
        timeoutMs: z.number().int().min(100).max(60_000).default(5000),
      }),
    )
    .default([]),
  /** Check TaskMaster's own Redis. */
  redis: z.boolean().default(true),
  /** Configured databases to check with `SELECT 1`. */
  databases: z.array(z.string()).default([]),
});

type HealthPayload = z.infer<typeof healthSchema>;

export interface CheckResult {
  name: string;
  kind: 'http' | 'redis' | 'postgres';
  ok: boolean;
  latencyMs: number;
  status?: number;
  error?: string;
}

export interface HealthReport {
  checkedAt: number;
  ok: boolean;
  jobId: string;
  checks: CheckResult[];
}

/**
 * Checks configured HTTP endpoints (through `ctx.http`, so the outbound
 * guard applies), Redis and PostgreSQL, all at once. The report is kept as
 * the latest and in a short history, and is the job's result; an unhealthy
 * target does not fail the job, which did its work by finding out.
 */
export async function checkHealth(payload: HealthPayload, ctx: HandlerContext): Promise<HealthReport> {
  const checks = await Promise.all([
    ...payload.http.map((target) =>
      timed(target.name, 'http', async () => {
        // Past the breaker: a health check must see the endpoint itself, and counts for nothing.
        const response = await ctx.http.fetch(target.url, { timeoutMs: target.timeoutMs, maxRedirects: 0, breaker: false });
        await response.body?.cancel();
        const ok = target.expectStatus ? target.expectStatus.includes(response.status) : response.status >= 200 && response.status < 300;
        return { ok, status: response.status, error: ok ? undefined : `unexpected status ${response.status}` };
      }),
    ),
    ...(payload.redis ? [timed('redis', 'redis', async () => (await ctx.kv.ping(), { ok: true }))] : []),
    ...payload.databases.map((name) =>
      timed(name, 'postgres', async () => (await ctx.db(name).query('SELECT 1'), { ok: true })),
    ),
  ]);

  const report: HealthReport = { checkedAt: Date.now(), ok: checks.every((c) => c.ok), jobId: ctx.jobId, checks };
  const history = (await ctx.kv.get<HealthReport[]>(HISTORY_KEY)) ?? [];
  await ctx.kv.set(LATEST_KEY, report);
  await ctx.kv.set(HISTORY_KEY, [report, ...history].slice(0, HISTORY_KEPT));
  if (!report.ok) ctx.log.warn({ failing: checks.filter((c) => !c.ok).map((c) => c.name) }, 'health check found failing targets');
  return report;
}

async function timed(
  name: string,
  kind: CheckResult['kind'],
  probe: () => Promise<{ ok: boolean; status?: number; error?: string }>,
): Promise<CheckResult> {
  const started = performance.now();
  try {
    const outcome = await probe();
    return { name, kind, latencyMs: Math.round(performance.now() - started), ...outcome };
  } catch (err) {
    return { name, kind, ok: false, latencyMs: Math.round(performance.now() - started), error: (err as Error).message };
  }
}
