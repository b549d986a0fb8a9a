/**
 * The API side of a graceful shutdown. While draining, requests that arrive
 * are answered 503 at once (so a load balancer moves them elsewhere) and the
 * ones already running finish; `settled` tells when none is left.
 */
let draining = false;
let inFlight = 0;
const idleWaiters: (() => void)[] = [];

export function beginDrain(): void {
  draining = true;
}

export function isDraining(): boolean {
  return draining;
}

/** Counts a request as running until its response closes. */
export function trackRequest(response: { once(event: 'close', listener: () => void): unknown }): void {
  inFlight++;
  response.once('close', () => {
    inFlight--;
    if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
  });
}

/** Resolves when no tracked request is running, or after `timeoutMs`. */
export function settled(timeoutMs: number): Promise<void> {
  if (inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    idleWaiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
