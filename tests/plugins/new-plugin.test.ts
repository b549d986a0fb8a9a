import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, tempDir, waitFor } from '../helpers/runtime.ts';
import { ROOT } from '../helpers/server.ts';

const run = promisify(execFile);

/** The CLI's environment without a configuration file the test run may name. */
function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.TASKMASTER_CONFIG;
  delete env.TASKMASTER_PLUGIN_DIRS;
  return env;
}

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

describe('taskmaster new-plugin', () => {
  it('writes into the default plugin folder, which a running worker created and watches, and prints a test command that passes', async () => {
    // The command runs where the service was started: both take ./my-plugins from the default plugins.dirs.
    const cwd = tempDir('tm-new-plugin-');
    const dir = join(cwd, 'my-plugins');
    expect(loadConfig({}).plugins.dirs).toEqual([resolve('my-plugins')]);
    runtime = await startTestRuntime({ config: { plugins: { dirs: [dir], builtins: false, watch: true, watchDebounceMs: 100 } } });
    expect(existsSync(dir)).toBe(true);

    // 1. The command writes the plugin and its test, with no --dir.
    const created = await run(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'new-plugin', 'greeter'], { cwd, env: cliEnv() });
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

    // 3. The test command it printed passes (npx's vitest is this repository's own).
    const printed = created.stdout.match(/^Test it: npx vitest (.+)$/m);
    expect(printed?.[1]).toMatch(/--dir my-plugins\/greeter$/);
    const tested = await run(join(ROOT, 'node_modules', '.bin', 'vitest'), printed![1]!.split(' '), {
      cwd,
      env: { ...cliEnv(), CI: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(tested.stdout).toMatch(/Tests\s+4 passed/);
  });

  it('prints a test command that passes when run from a clone of TaskMaster, as the README shows', async () => {
    const elsewhere = join(tempDir('tm-new-plugin-dir-'), 'elsewhere');
    const created = await run(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'new-plugin', 'greeter', '--dir', elsewhere], {
      cwd: ROOT,
      env: cliEnv(),
    });

    const args = `run --config vitest.plugins.config.ts --dir ${join(elsewhere, 'greeter')}`;
    expect(created.stdout).toContain(`Test it: npx vitest ${args}\n`);
    const tested = await run(join(ROOT, 'node_modules', '.bin', 'vitest'), args.split(' '), {
      cwd: ROOT,
      env: { ...cliEnv(), CI: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(tested.stdout).toMatch(/Tests\s+4 passed/);
  });
});
