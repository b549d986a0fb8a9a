import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { tempDir, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { api, ROOT, startServer, type TestServer } from '../helpers/server.ts';
import { flowPlugin, writePlugin } from './plugin-files.ts';

const servers: TestServer[] = [];
afterEach(async (context) => {
  if (context.task.result?.state === 'fail') {
    for (const server of servers) process.stderr.write(`--- ${server.url}\n${server.output().slice(-3000)}\n`);
  }
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

type Listing = {
  processes: { id: string; plugins: { name: string; version: string; hash: string; status: string; types: string[]; jobsRun: number }[]; rejected: unknown[] }[];
  history: Record<string, { version: string; hash: string }[]>;
};

async function listing(server: TestServer): Promise<Listing> {
  const response = await api(server, 'GET', '/api/v1/plugins');
  expect(response.status).toBe(200);
  return response.body;
}

function servingVersions(list: Listing): string[] {
  return list.processes.map((p) => p.plugins.find((v) => v.name === 'flow' && v.status === 'serving')?.version ?? 'none');
}

describe('fleet-wide reload', () => {
  it('reloads two worker processes and the API through Redis, rejects a broken version everywhere, and rolls back', async () => {
    const dir = tempDir('tm-fleet-');
    writePlugin(dir, 'flow', flowPlugin('1.0.0'));
    const config = {
      redis: { url: inject('redisUrl'), prefix: uniquePrefix(), allowEviction: true },
      plugins: { dirs: [dir], builtins: false, watch: false },
    };
    const started = await Promise.all([
      startServer({ role: 'api', config }),
      startServer({ role: 'worker', config }),
      startServer({ role: 'worker', config }),
    ]);
    servers.push(...started);
    const [apiServer] = started;
    await waitFor(async () => (await listing(apiServer)).processes.length === 2, 30_000);
    const v1 = (await listing(apiServer)).processes[0].plugins[0].hash;

    // 1. A new version reaches every process.
    writePlugin(dir, 'flow', flowPlugin('2.0.0'));
    const reload = await api(apiServer, 'POST', '/api/v1/plugins/reload');
    expect(reload.status).toBe(200);
    expect(reload.body.ok).toBe(true);
    expect(reload.body.outcomes).toHaveLength(3);
    for (const outcome of reload.body.outcomes) {
      expect(outcome.report.loaded).toMatchObject([{ name: 'flow', version: '2.0.0', replaced: { version: '1.0.0' } }]);
    }
    await waitFor(async () => servingVersions(await listing(apiServer)).every((v) => v === '2.0.0'));
    const after = await listing(apiServer);
    expect(after.history.flow.map((r) => r.version)).toEqual(['1.0.0', '2.0.0']);

    const submitted = await api(apiServer, 'POST', '/api/v1/jobs', { type: 'flow.work', payload: { n: 1 } });
    expect(submitted.status).toBe(202);
    const job = await waitFor(async () => {
      const { body } = await api(apiServer, 'GET', `/api/v1/jobs/${submitted.body.id}`);
      return body.state === 'completed' ? body : undefined;
    });
    expect(job.attempts[0].pluginVersion).toBe('2.0.0');

    // 2. A broken version is rejected by every process; 2.0.0 keeps serving.
    writePlugin(dir, 'flow', 'export default { name: "flow", version: ');
    const broken = await api(apiServer, 'POST', '/api/v1/plugins/reload');
    expect(broken.body.ok).toBe(false);
    for (const outcome of broken.body.outcomes) {
      expect(outcome.report.rejected[0].problems[0]).toMatch(/cannot import/);
    }
    await waitFor(async () => (await listing(apiServer)).processes.every((p) => p.rejected.length === 1));
    expect(servingVersions(await listing(apiServer))).toEqual(['2.0.0', '2.0.0']);

    // 3. Rollback to 1.0.0 puts its files back and reloads everywhere.
    const rollback = await api(apiServer, 'POST', '/api/v1/plugins/flow/rollback', { hash: v1 });
    expect(rollback.status).toBe(200);
    expect(rollback.body).toMatchObject({ ok: true, restored: { version: '1.0.0', hash: v1 } });
    expect(readFileSync(join(dir, 'flow', 'index.ts'), 'utf8')).toBe(flowPlugin('1.0.0'));
    await waitFor(async () => servingVersions(await listing(apiServer)).every((v) => v === '1.0.0'));
    const unknown = await api(apiServer, 'POST', '/api/v1/plugins/flow/rollback', { hash: '0000000000000000' });
    expect(unknown.status).toBe(404);

    // 4. `taskmaster reload` asks the same of every process from the shell.
    writePlugin(dir, 'flow', flowPlugin('3.0.0'));
    const configFile = join(tempDir('tm-fleet-cli-'), 'taskmaster.config.json');
    writeFileSync(configFile, JSON.stringify({ ...config, dataDir: join(dir, '..', 'cli-data'), log: { level: 'warn' } }));
    // Run without blocking this process: its idle HTTP connections must keep seeing the server.
    const cli = await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'reload'], {
      env: { ...process.env, TASKMASTER_CONFIG: configFile },
      timeout: 60_000,
    });
    expect(cli.stdout.match(/loaded flow@3\.0\.0/g)).toHaveLength(3);
    await waitFor(async () => servingVersions(await listing(apiServer)).every((v) => v === '3.0.0'));
  });
});
