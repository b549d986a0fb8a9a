import { fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import { BreakerOpenError } from '../core/errors.ts';
import { isRetryableStatus } from '../sdk/http-status.ts';
import type { HttpClient, HttpRequestInit } from '../sdk/types.ts';
import { blockedCause, OutboundGuard } from './outbound-guard.ts';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REDIRECTS = 5;

/**
 * The circuit breakers requests go through, one per host (`name:port`).
 * `acquire` answers whether a request may go now; `record` reports how it went.
 */
export interface HostBreakers {
  acquire(host: string): Promise<{ allowed: true; probe: boolean } | { allowed: false; retryInMs: number }>;
  record(host: string, ok: boolean, probe: boolean): Promise<void>;
}

/**
 * The HTTP client plugins get as `ctx.http`. Every request has a timeout and
 * is tied to the job's signal; redirects are followed by hand, so the guard
 * checks each hop before it is requested, and a 303 (or a 301/302 after POST)
 * turns into a GET. A refused address fails with a `PermanentError`, which is
 * not retried.
 *
 * With `breakers`, each hop first asks its host's breaker: while it is open
 * the request is not sent and fails with a `BreakerOpenError` (the worker
 * defers the job). A network error, a timeout, or a 5xx/408/429 answer counts
 * as a failure of that host; any other answer as a success.
 */
export function createHttpClient(options: { guard: OutboundGuard; signal?: AbortSignal; breakers?: HostBreakers }): HttpClient {
  const { guard } = options;

  return {
    async fetch(input: string | URL, init: HttpRequestInit = {}): Promise<Response> {
      const { timeoutMs = DEFAULT_TIMEOUT_MS, maxRedirects = DEFAULT_MAX_REDIRECTS, breaker = true, ...rest } = init;
      const breakers = breaker ? options.breakers : undefined;
      const signals = [AbortSignal.timeout(timeoutMs), options.signal, rest.signal].filter(Boolean) as AbortSignal[];
      const signal = AbortSignal.any(signals);

      let url = new URL(input);
      let request = { ...rest, signal, redirect: 'manual', dispatcher: guard.dispatcher } as UndiciRequestInit;
      for (let hop = 0; ; hop++) {
        await guard.check(url);
        const host = url.host.toLowerCase();
        const gate = breakers ? await breakers.acquire(host) : { allowed: true as const, probe: false };
        if (!gate.allowed) throw new BreakerOpenError(host, gate.retryInMs);

        const response = (await undiciFetch(url, request).catch(async (err) => {
          const blocked = blockedCause(err);
          // Only the host's own failures count: not a refused address, nor a job cancelled or shut down.
          const cancelled = options.signal?.aborted || rest.signal?.aborted;
          if (breakers && !blocked && !cancelled) await breakers.record(host, false, gate.probe);
          throw blocked ?? err;
        })) as unknown as Response;
        if (breakers) await breakers.record(host, !isRetryableStatus(response.status), gate.probe);
        const location = response.headers.get('location');
        if (!isRedirect(response.status) || !location || hop >= maxRedirects) return response;

        await response.body?.cancel();
        url = new URL(location, url);
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && request.method === 'POST')) {
          request = { ...request, method: 'GET', body: undefined };
        }
      }
    },
  };
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}
