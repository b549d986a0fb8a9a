import { afterAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../helpers/runtime.ts';
import type { TestServer } from '../helpers/server.ts';
import { chaosScale, Fleet, report, submitEffects, CHAOS_TIMEOUT_MS } from './fleet.ts';

const scale = chaosScale();
const fleet = new Fleet(inject('redisUrl'), {
  // Short locks so jobs of a killed worker come back within seconds, not 30 s.
  worker: { lockDurationMs: 5000, stalledIntervalMs: 1000, drainTimeoutMs: 1000 },
});

afterAll(() => fleet.stop());

describe('chaos: worker processes killed at random', () => {
  it('completes every accepted job, re-runs only killed ones, applies each effect once', async () => {
    const jobCount = 40 * scale;
    const killCount = 3 * scale;
    const apiServer = await fleet.start('api');
    const workers: TestServer[] = await Promise.all([fleet.start('worker'), fleet.start('worker'), fleet.start('worker')]);

    const accepted = await submitEffects(apiServer, jobCount, 'kill', () => 200 + Math.floor(Math.random() * 400));
    expect(accepted).toHaveLength(jobCount);

    // SIGKILL a random worker while jobs run, and start another in its place (not waited for:
    // the others carry on meanwhile, as in production).
    const killed = new Set<number>();
    const replacements: Promise<TestServer>[] = [];
    for (let i = 0; i < killCount; i++) {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
      const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0];
      killed.add(victim.process.pid!);
      await victim.stop('SIGKILL');
      const replacement = fleet.start('worker');
      replacements.push(replacement);
      if (!workers.length) workers.push(await replacement);
    }
    await Promise.all(replacements);

    await waitFor(() => fleet.settled(accepted), 120_000 * scale, 500);
    const counts = await fleet.tally(accepted, killed);
    report('worker-kill', { ...counts, killed: killed.size });

    expect(counts.lost).toBe(0);
    expect(counts.completed).toBe(jobCount);
    expect(counts.runTwiceUnexplained).toBe(0);
    expect(counts.duplicateEffects).toBe(0);
  }, CHAOS_TIMEOUT_MS);
});
