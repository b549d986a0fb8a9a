import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, packageRoot } from '../../src/config/index.ts';
import { Registry } from '../../src/plugins/index.ts';
import { tempDir } from '../helpers/runtime.ts';

/** A folder of plugins written from source strings, one sub-folder each. */
function pluginDir(plugins: Record<string, string>): string {
  const dir = tempDir('tm-plugins-');
  for (const [name, source] of Object.entries(plugins)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'index.ts'), source);
  }
  return dir;
}

const plugin = (name: string, type: string, extra = '') => `
import { definePlugin, z } from 'taskmaster/sdk';
export default definePlugin({
  name: '${name}',
  version: '0.1.0',
  jobs: { '${type}': { schema: z.object({}), handler: async () => 'ok' } },
  ${extra}
});
`;

async function load(dir: string) {
  const config = loadConfig({}, { plugins: { dirs: [dir], builtins: false } });
  return Registry.load(config, packageRoot());
}

describe('plugin loading at start-up', () => {
  it('loads TypeScript and JavaScript plugins without a build step', async () => {
    const dir = pluginDir({ alpha: plugin('alpha', 'alpha.run') });
    writeFileSync(
      join(dir, 'beta.mjs'),
      `export default { name: 'beta', version: '2.0.0', jobs: { 'beta.run': { schema: { safeParse: (d) => ({ success: true, data: d }) }, handler: () => 1 } } };`,
    );

    const registry = await load(dir);

    expect(registry.types().map((t) => `${t.type}@${t.plugin.version}`)).toEqual(['alpha.run@0.1.0', 'beta.run@2.0.0']);
  });

  it('refuses an invalid definition, naming each problem', async () => {
    const dir = pluginDir({
      broken: `export default { name: 'Broken Name', version: '', jobs: { 'nodot': { schema: {}, handler: 1 } } };`,
    });

    const error = await load(dir).then(() => undefined, (err: Error) => err);

    expect(error?.name).toBe('PluginLoadError');
    expect(error?.message).toContain('broken');
    expect(error?.message).toMatch(/name: must be lower-case/);
    expect(error?.message).toMatch(/jobs\.nodot/);
  });

  it('refuses two plugins that claim the same job type', async () => {
    const dir = pluginDir({ one: plugin('one', 'shared.job'), two: plugin('two', 'shared.job') });

    const error = await load(dir).then(() => undefined, (err: Error) => err);

    expect(error?.message).toContain('job type shared.job is already provided by plugin one');
  });

  it('refuses a plugin whose module does not even parse', async () => {
    const dir = pluginDir({ syntax: 'export default definePlugin({ name: ' });

    const error = await load(dir).then(() => undefined, (err: Error) => err);

    expect(error?.name).toBe('PluginLoadError');
    expect(error?.message).toContain('cannot import');
  });
});
