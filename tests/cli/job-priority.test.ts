import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { tempDir, uniquePrefix } from '../helpers/runtime.ts';
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

describe('taskmaster job --priority and queues', () => {
  it('changes a waiting job priority from the shell and shows it per class', async () => {
    const dir = tempDir('tm-cli-');
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: join(dir, 'data'),
        redis: { url: inject('redisUrl'), prefix: uniquePrefix(), allowEviction: true },
        plugins: { dirs: [FIXTURES], builtins: false },
        log: { level: 'warn' },
      }),
    );
    const submitted = JSON.parse((await cli(configFile, ['enqueue', 'test.noop', '--priority', 'low'])).stdout);

    const bad = await cli(configFile, ['job', submitted.id, '--priority', 'urgent']);
    const changed = await cli(configFile, ['job', submitted.id, '--priority', 'critical']);
    const queues = await cli(configFile, ['queues']);

    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--priority must be one of critical, high, normal, low');
    expect(changed.code).toBe(0);
    expect(JSON.parse(changed.stdout)).toEqual({ id: submitted.id, from: 'low', priority: 'critical', state: 'waiting' });
    const [queue] = JSON.parse(queues.stdout);
    expect(queue).toMatchObject({ name: 'default', waiting: 1, waitingByPriority: { critical: 1, low: 0 } });
  }, 60_000);
});
