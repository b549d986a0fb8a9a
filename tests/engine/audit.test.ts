import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

async function start(audit?: { maxEntries?: number; retentionMs?: number }) {
  runtime = await startTestRuntime({ workers: false, config: audit ? { audit } : {} });
  return runtime;
}

describe('audit log', () => {
  it('records who, what, when and on which job, and lists newest first', async () => {
    const rt = await start();
    const before = Date.now();
    await rt.audit.record({ actor: 'ops', action: 'job.retry', jobId: 'default.a' });
    await rt.audit.record({ actor: 'ops', action: 'key.create', target: 'k1', details: { scopes: ['read'] } });

    const { entries, next } = await rt.audit.list();

    expect(next).toBeUndefined();
    expect(entries.map((e) => e.action)).toEqual(['key.create', 'job.retry']);
    expect(entries[1]).toMatchObject({ actor: 'ops', action: 'job.retry', jobId: 'default.a' });
    expect(entries[0]).toMatchObject({ target: 'k1', details: { scopes: ['read'] } });
    for (const entry of entries) {
      expect(entry.at).toBeGreaterThanOrEqual(before);
      expect(entry.id).toMatch(/^\d+-\d+$/);
    }
  });

  it('filters by actor, job, exact action and action prefix', async () => {
    const rt = await start();
    await rt.audit.record({ actor: 'a', action: 'job.retry', jobId: 'default.1' });
    await rt.audit.record({ actor: 'b', action: 'job.cancel', jobId: 'default.2' });
    await rt.audit.record({ actor: 'a', action: 'key.revoke', target: 'k' });

    expect((await rt.audit.list({ actor: 'a' })).entries.map((e) => e.action)).toEqual(['key.revoke', 'job.retry']);
    expect((await rt.audit.list({ jobId: 'default.2' })).entries.map((e) => e.actor)).toEqual(['b']);
    expect((await rt.audit.list({ action: 'job.' })).entries).toHaveLength(2);
    expect((await rt.audit.list({ action: 'job' })).entries).toHaveLength(0);
  });

  it('pages with a cursor and never repeats an entry', async () => {
    const rt = await start();
    for (let i = 0; i < 7; i++) await rt.audit.record({ actor: 'a', action: 'job.retry', jobId: `default.${i}` });

    const seen: string[] = [];
    let before: string | undefined;
    do {
      const page = await rt.audit.list({ limit: 3, before });
      seen.push(...page.entries.map((e) => e.jobId!));
      before = page.next;
    } while (before);

    expect(seen).toEqual(['default.6', 'default.5', 'default.4', 'default.3', 'default.2', 'default.1', 'default.0']);
  });

  it('keeps at most maxEntries, dropping the oldest', async () => {
    const rt = await start({ maxEntries: 100 });
    for (let i = 0; i < 130; i++) await rt.audit.record({ actor: 'a', action: 'job.retry', jobId: `default.${i}` });

    const { entries } = await rt.audit.list({ limit: 1000 });

    expect(entries).toHaveLength(100);
    expect(entries[0].jobId).toBe('default.129');
    expect(entries[99].jobId).toBe('default.30');
  });

  it('drops entries older than the retention when writing', async () => {
    const rt = await start({ retentionMs: 60_000 });
    // An entry written "two minutes ago", as an old process would have left it.
    await rt.redis.xadd(rt.keys.audit(), `${Date.now() - 120_000}-0`, 'e', JSON.stringify({ actor: "old", action: "x.y" }));
    await rt.audit.record({ actor: 'new', action: 'job.retry' });

    const { entries } = await rt.audit.list();

    expect(entries.map((e) => e.actor)).toEqual(['new']);
  });

  it('selects a time window with since and until', async () => {
    const rt = await start();
    const first = await rt.audit.record({ actor: 'a', action: 'job.retry' });
    await new Promise((r) => setTimeout(r, 20));
    const second = await rt.audit.record({ actor: 'b', action: 'job.retry' });

    expect((await rt.audit.list({ since: second.at })).entries.map((e) => e.actor)).toEqual(['b']);
    expect((await rt.audit.list({ until: first.at })).entries.map((e) => e.actor)).toEqual(['a']);
  });
});
