import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { tempDir } from '../helpers/runtime.ts';
import { ROOT, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe('npm run demo', () => {
  it('replays the sample workload to the end and prints its summary', async () => {
    const demoConfig = JSON.parse(readFileSync(join(ROOT, 'examples', 'demo.config.json'), 'utf8'));
    server = await startServer({ redisUrl: inject('redisUrl'), config: { plugins: demoConfig.plugins, outbound: demoConfig.outbound } });
    const port = Number(new URL(server.url).port);
    const dir = tempDir('tm-demo-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...demoConfig, api: { port, keys: [] } }));

    const { code, stdout } = await run(['run', 'demo', '--', '--rate', '400', '--key', 'test-admin-key-0123456789'], {
      TASKMASTER_CONFIG: join(dir, 'config.json'),
    });

    expect(code).toBe(0);
    const summary = JSON.parse(stdout.slice(stdout.indexOf('{')));
    const lines = readFileSync(join(ROOT, 'examples', 'workload.ndjson'), 'utf8').trim().split('\n');
    const rejects = lines.filter((l) => l.includes('/reject')).length;
    const flaky = lines.filter((l) => l.includes('/flaky')).length;
    expect(summary).toMatchObject({ submitted: lines.length, inFlight: 0, failed: rejects, completed: lines.length - rejects });
    expect(summary.receiver).toMatchObject({ badSignatures: 0, answered400: rejects, answered503: flaky });
    expect(summary.timeInQueueMs.p99).toBeGreaterThanOrEqual(summary.timeInQueueMs.p50);
  }, 240_000);
});

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  const child = spawn('npm', args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout })));
}
