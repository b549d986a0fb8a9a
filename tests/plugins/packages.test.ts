import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, tempDir, waitFor } from '../helpers/runtime.ts';

let runtime: Runtime | undefined;
const cwd = process.cwd();
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
  process.chdir(cwd);
});

/** Installs (or upgrades) a plugin package into `<project>/node_modules`, the way npm lays it out. */
function installPackage(project: string, version: string): void {
  const dir = join(project, 'node_modules', 'tm-plugin-hello');
  mkdirSync(join(dir, 'lib'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'tm-plugin-hello', version, type: 'module', exports: { '.': { import: './lib/plugin.js' } } }),
  );
  writeFileSync(
    join(dir, 'lib', 'plugin.js'),
    `import { definePlugin, z } from 'taskmaster/sdk';
export default definePlugin({
  name: 'hello-package',
  version: '${version}',
  jobs: { 'hello.greet': { schema: z.object({ name: z.string() }), handler: ({ name }) => ({ said: 'hello ' + name, version: '${version}' }) } },
});
`,
  );
}

async function greet(rt: Runtime) {
  const { id } = await rt.producer.submit({ type: 'hello.greet', payload: { name: 'Ada' } });
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return job.state === 'completed' ? job : undefined;
  });
}

describe('plugins from npm packages', () => {
  it('loads a package named in the configuration, takes its upgrade on reload, and drops it when uninstalled', async () => {
    const project = tempDir('tm-project-');
    installPackage(project, '1.0.0');
    // Packages resolve from the working directory, as the application's own imports would.
    process.chdir(project);
    const rt = (runtime = await startTestRuntime({ config: { plugins: { builtins: false, watch: false, packages: ['tm-plugin-hello'] } } }));

    expect((await greet(rt)).result).toEqual({ said: 'hello Ada', version: '1.0.0' });

    installPackage(project, '1.1.0');
    const upgraded = await rt.fleet!.reloadHere('test');
    expect(upgraded.report!.loaded).toMatchObject([{ name: 'hello-package', version: '1.1.0', replaced: { version: '1.0.0' } }]);
    expect((await greet(rt)).result).toMatchObject({ version: '1.1.0' });

    rmSync(join(project, 'node_modules', 'tm-plugin-hello'), { recursive: true });
    const removed = await rt.fleet!.reloadHere('test');
    expect(removed.report!.removed.map((p) => p.name)).toEqual(['hello-package']);
    expect(removed.report!.rejected[0].problems[0]).toMatch(/npm package tm-plugin-hello is not installed/);
    await expect(rt.producer.submit({ type: 'hello.greet', payload: { name: 'Ada' } })).rejects.toMatchObject({
      name: 'ValidationError',
      issues: [{ field: 'type', message: 'unknown job type hello.greet' }],
    });
  });
});
