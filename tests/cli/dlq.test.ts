import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, inject, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, tempDir, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { ROOT } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const run = promisify(execFile);

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
}, 180_000);

it('lists, replays and purges DLQ entries from the command line', async () => {
  const config = { redis: { url: inject('redisUrl'), prefix: uniquePrefix(), allowEviction: true }, plugins: { dirs: [FIXTURES] }, defaults: { backoffMs: 10 } };
  runtime = await startTestRuntime({ workers: false, config });
  const rt = runtime;
  const worker = await startTestRuntime({ workers: true, config });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await rt.producer.submit({ type: 'test.flaky', payload: { failures: 1 }, retries: 0, tenant: 'cli' })).id);
  await waitFor(async () => (await rt.dlq.list({ tenant: 'cli' })).entries.length === 3);
  await worker.stop();

  const dir = tempDir();
  const file = join(dir, 'taskmaster.config.json');
  writeFileSync(file, JSON.stringify({ ...config, dataDir: join(dir, 'data'), log: { level: 'silent' } }));
  const cli = (...args: string[]) => run(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'dlq', ...args], { env: { ...process.env, TASKMASTER_CONFIG: file } });

  const listed = await cli('list', '--tenant', 'cli');
  const lines = listed.stdout.trim().split('\n');
  expect(lines).toHaveLength(3);
  const firstId = lines[0].split('\t')[0];

  const refused = await cli('purge').catch((err) => err);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('--all');

  const replayed = await cli('replay', '--tenant', 'cli');
  expect(JSON.parse(replayed.stdout)).toEqual({ replayed: 3, skipped: 0 });
  expect(replayed.stderr).toContain('replaying [##############################] 3/3');
  const entry = await rt.dlq.get(firstId);
  expect(entry.replays).toHaveLength(1);
  expect((await rt.jobs.get(entry.replays[0].jobId)).state).toBe('waiting');

  const purged = await cli('purge', '--tenant', 'cli');
  expect(JSON.parse(purged.stdout)).toEqual({ purged: 3 });
  expect(purged.stderr).toContain('3/3');
  expect((await rt.dlq.list({})).entries).toEqual([]);
}, 180_000);
