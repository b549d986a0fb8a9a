import { fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import type { HttpClient, HttpRequestInit } from '../sdk/types.ts';
import { blockedCause, OutboundGuard } from './outbound-guard.ts';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REDIRECTS = 5;

/**
 * The HTTP client plugins get as `ctx.http`. Every request has a timeout and
 * is tied to the job's signal; redirects are followed by hand, so the guard
 * checks each hop before it is requested, and a 303 (or a 301/302 after POST)
 * turns into a GET. A refused address fails with a `PermanentError`, which is
 * not retried.
 */
export function createHttpClient(options: { guard: OutboundGuard; signal?: AbortSignal }): HttpClient {
  const { guard } = options;

  return {
    async fetch(input: string | URL, init: HttpRequestInit = {}): Promise<Response> {
      const { timeoutMs = DEFAULT_TIMEOUT_MS, maxRedirects = DEFAULT_MAX_REDIRECTS, ...rest } = init;
      const signals = [AbortSignal.timeout(timeoutMs), options.signal, rest.signal].filter(Boolean) as AbortSignal[];
      const signal = AbortSignal.any(signals);

      let url = new URL(input);
      let request = { ...rest, signal, redirect: 'manual', dispatcher: guard.dispatcher } as UndiciRequestInit;
      for (let hop = 0; ; hop++) {
        await guard.check(url);
        const response = (await undiciFetch(url, request).catch((err) => {
          throw blockedCause(err) ?? err;
        })) as unknown as Response;
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
