import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { tempDir, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { ROOT } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

function cli(configFile: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), ...args], {
    env: { ...process.env, TASKMASTER_CONFIG: configFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('taskmaster enqueue and job', () => {
  it('stores a job from the shell, names bad fields, and prints the job back', async () => {
    const dir = tempDir('tm-cli-');
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: join(dir, 'data'),
        redis: { url: inject('redisUrl'), prefix: uniquePrefix(), allowEviction: true },
        plugins: { dirs: [FIXTURES] },
        log: { level: 'warn' },
      }),
    );

    const bad = await cli(configFile, ['enqueue', 'test.flaky', '--data', '{"failures":"x"}', '--priority', 'high']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('payload.failures');

    const good = await cli(configFile, ['enqueue', 'test.flaky', '--data', '{"failures":0}', '--priority', 'high', '--tenant', 'acme']);
    expect(good.code).toBe(0);
    const submitted = JSON.parse(good.stdout);
    expect(submitted).toMatchObject({ type: 'test.flaky', queue: 'default', state: 'waiting' });

    const shown = await waitFor(async () => {
      const res = await cli(configFile, ['job', submitted.id]);
      return res.code === 0 ? JSON.parse(res.stdout) : undefined;
    });
    expect(shown).toMatchObject({ id: submitted.id, payload: { failures: 0 }, submittedBy: 'cli' });
    expect(shown.options).toMatchObject({ priority: 'high', tenant: 'acme' });

    const missing = await cli(configFile, ['job', 'default.nothing']);
    expect(missing.code).toBe(1);
  });
});
