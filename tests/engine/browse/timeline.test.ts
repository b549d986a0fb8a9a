import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../../src/core/index.ts';
import { buildTimeline, type JobView } from '../../../src/engine/index.ts';

function attempt(n: number, startedAt: number, outcome: AttemptRecord['outcome'], error?: string): AttemptRecord {
  return {
    attempt: n,
    startedAt,
    endedAt: startedAt + 40,
    worker: 'host:1:abc',
    plugin: 'mail',
    pluginVersion: '2.0.0',
    pluginHash: 'f00',
    outcome,
    ...(error ? { error: { name: 'Error', message: error } } : {}),
  };
}

function job(overrides: Partial<JobView>): JobView {
  return {
    id: 'default.x',
    type: 'email.send',
    queue: 'default',
    state: 'completed',
    payload: {},
    options: { priority: 'high', retries: 3, timeoutMs: 1000 },
    submittedBy: 'ops-key',
    attemptsMade: 0,
    attempts: [],
    progress: 0,
    timestamps: { createdAt: 1_000 },
    ...overrides,
  };
}

describe('job timeline', () => {
  it('tells submission, each attempt, the retry it scheduled and the end, in time order', () => {
    const timeline = buildTimeline(
      job({ attempts: [attempt(1, 1_100, 'failed', 'SMTP 451'), attempt(2, 2_200, 'completed')], timestamps: { createdAt: 1_000, finishedAt: 2_240 } }),
      [{ at: 1_500, kind: 'priority.changed', by: 'admin-key', message: 'priority low to high' }],
    );

    expect(timeline.map((e) => e.kind)).toEqual([
      'submitted',
      'queued',
      'attempt.started',
      'attempt.failed',
      'retry.scheduled',
      'priority.changed',
      'attempt.started',
      'attempt.completed',
      'completed',
    ]);
    expect(timeline[0].by).toBe('ops-key');
    expect(timeline[2].plugin).toBe('mail@2.0.0');
    expect(timeline[3].message).toContain('SMTP 451');
    expect(timeline[4].message).toContain('ran after 1060 ms');
    expect(timeline[5].by).toBe('admin-key');
  });

  it('ends a job moved to the DLQ with its error, and marks a replay', () => {
    const timeline = buildTimeline(
      job({
        state: 'dlq' as JobView['state'],
        error: 'retries exhausted',
        attempts: [attempt(1, 1_100, 'failed', 'boom')],
        timestamps: { createdAt: 1_000, finishedAt: 1_140 },
        ...({ replayOf: 'default.old.k1' } as object),
      }),
      [],
    );

    expect(timeline[0]).toMatchObject({ kind: 'replayed', message: 'replayed from default.old.k1 as email.send' });
    expect(timeline.at(-1)).toMatchObject({ kind: 'dead-lettered', message: 'dead-lettered: retries exhausted' });
  });

  it('shows a delayed job as delayed, with a retry still to come', () => {
    const timeline = buildTimeline(
      job({ state: 'delayed', options: { priority: 'low', retries: 3, timeoutMs: 1, delayMs: 60_000 }, attempts: [attempt(1, 1_100, 'failed', 'x')] }),
      [],
    );
    expect(timeline.map((e) => e.kind)).toEqual(['submitted', 'delayed', 'attempt.started', 'attempt.failed', 'retry.scheduled']);
  });
});
