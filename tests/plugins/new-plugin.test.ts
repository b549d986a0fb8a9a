import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, tempDir, waitFor } from '../helpers/runtime.ts';
import { ROOT } from '../helpers/server.ts';

const run = promisify(execFile);

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

describe('taskmaster new-plugin', () => {
  it('writes a skeleton that a running worker picks up from its watched folder and whose own test passes', async () => {
    const dir = tempDir('tm-new-plugin-');
    runtime = await startTestRuntime({ config: { plugins: { dirs: [dir], builtins: false, watch: true, watchDebounceMs: 100 } } });

    // 1. The command writes the plugin and its test.
    const created = await run(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'new-plugin', 'greeter', '--dir', dir]);
    expect(created.stdout).toContain('greeter.hello');
    expect(existsSync(join(dir, 'greeter', 'index.ts'))).toBe(true);
    expect(existsSync(join(dir, 'greeter', 'index.test.ts'))).toBe(true);

    // 2. The running worker serves it without a restart, and runs a job.
    const rt = runtime;
    await waitFor(() => rt.registry.get('greeter.hello'), 20_000);
    const { id } = await rt.producer.submit({ type: 'greeter.hello', payload: { name: 'Ada' } });
    const job = await waitFor(async () => {
      const j = await rt.jobs.get(id);
      return ['completed', 'dlq'].includes(j.state) ? j : undefined;
    });
    expect(job).toMatchObject({ state: 'completed', result: { greeting: 'hello Ada' }, progress: 100 });
    expect(job.attempts[0]).toMatchObject({ plugin: 'greeter', pluginVersion: '0.1.0' });

    // 3. Its own test passes, where `taskmaster/sdk` resolves as in a project that installed TaskMaster.
    const configFile = join(tempDir('tm-new-plugin-vitest-'), 'vitest.config.mjs');
    writeFileSync(
      configFile,
      `export default { resolve: { alias: { 'taskmaster/sdk': ${JSON.stringify(join(ROOT, 'src', 'sdk', 'index.ts'))} } }, test: { include: ['**/*.test.ts'] } };\n`,
    );
    const tested = await run(join(ROOT, 'node_modules', '.bin', 'vitest'), ['run', '--root', join(dir, 'greeter'), '--config', configFile], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(tested.stdout).toMatch(/Tests\s+4 passed/);
  });
});
