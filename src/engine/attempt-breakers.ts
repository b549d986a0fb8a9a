import type { Breakers } from './breakers.ts';
import type { Logger } from './logger.ts';
import type { HostBreakers } from './outbound.ts';

/**
 * The breakers one attempt's `ctx.http` requests go through: the shared
 * per-host breakers, seen from this attempt. It remembers a probe that
 * failed, so that the worker defers the job instead of spending a retry on
 * it, as it does for a job-level probe.
 *
 * A job type that names its own `downstream` has its breaker at the job
 * level instead (the processor then gives its attempts none of these), so
 * that no attempt is counted twice or waits on two breakers at once.
 */
export class AttemptBreakers implements HostBreakers {
  /** The host whose probe failed in this attempt, if one did. */
  failedProbe?: string;

  constructor(
    private readonly breakers: Breakers,
    private readonly log: Logger,
  ) {}

  async acquire(host: string) {
    return this.breakers.acquire(host);
  }

  async record(host: string, ok: boolean, probe: boolean): Promise<void> {
    if (probe && !ok) this.failedProbe = host;
    // A breaker that cannot be updated must not fail the request that was made.
    await this.breakers.record(host, ok, probe).catch((err) => this.log.error({ err, host }, 'could not update breaker'));
  }

  /** The two methods alone, as an isolated handler's thread calls them over. */
  remote(): HostBreakers {
    return { acquire: (host) => this.acquire(host), record: (host, ok, probe) => this.record(host, ok, probe) };
  }
}
