import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../engine/index.ts';

/** A child that crashes is started again after this long, so a crash loop cannot spin. */
const RESTART_DELAY_MS = 1000;

/**
 * `taskmaster worker --processes N`: a supervisor that runs N worker
 * processes on this machine (each a full `taskmaster worker` with its own
 * connections and event loop, so handlers use every core) and starts again
 * any that dies. Signals are passed on: the first drains every child, a
 * second makes them exit at once. Children run in their own process group,
 * so a Ctrl-C in a terminal reaches them once, through the supervisor; a
 * child whose supervisor vanishes drains and exits by itself.
 *
 * Resolves with the exit code once every child has exited after a signal.
 */
export function superviseWorkers(count: number, workerArgs: string[], log: Logger): Promise<number> {
  const children = new Set<ChildProcess>();
  let signals = 0;
  let failed = false;
  let finish: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const startChild = (slot: number) => {
    const child = fork(process.argv[1], ['worker', ...workerArgs], {
      detached: true,
      env: { ...process.env, TASKMASTER_WORKER_SLOT: String(slot) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    log.info({ slot, childPid: child.pid }, 'worker process started');

    child.once('exit', (code, signal) => {
      children.delete(child);
      if (signals > 0) {
        if (code !== 0) failed = true;
        if (children.size === 0) finish(failed ? 1 : 0);
        return;
      }
      log.error({ slot, childPid: child.pid, code, signal }, 'worker process died; starting another');
      setTimeout(() => {
        if (signals === 0) startChild(slot);
      }, RESTART_DELAY_MS);
    });
  };

  for (let slot = 0; slot < count; slot++) startChild(slot);

  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    log.info({ signal, children: children.size }, signals === 1 ? 'draining worker processes' : 'second signal: stopping worker processes now');
    if (children.size === 0) finish(0);
    for (const child of children) child.kill(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  return done;
}
