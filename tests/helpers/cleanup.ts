import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';

/**
 * Every process a test starts is written down here, so that the run's
 * teardown stops whatever a failed or timed-out test left running.
 */
const PID_FILE_ENV = 'TASKMASTER_TEST_PID_FILE';

export function trackProcess(pid: number | undefined): void {
  const file = process.env[PID_FILE_ENV];
  if (file && pid) appendFileSync(file, `${pid}\n`);
}

export function useProcessFile(file: string): void {
  process.env[PID_FILE_ENV] = file;
}

/** Kills every tracked process still alive. */
export function killTracked(file: string): void {
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const pid = Number(line);
    if (!pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone: the test stopped it itself.
    }
  }
  rmSync(file, { force: true });
}
