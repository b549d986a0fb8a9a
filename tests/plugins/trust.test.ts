import { chmodSync, cpSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { Registry } from '../../src/plugins/index.ts';
import { ROOT } from '../helpers/server.ts';
import { tempDir } from '../helpers/runtime.ts';

const TESTKIT = resolve(import.meta.dirname, '..', 'fixtures', 'plugins', 'testkit');

/** A plugins folder holding a copy of the testkit plugin. */
function pluginsFolder(): { dir: string; plugin: string } {
  const dir = join(tempDir('tm-trust-'), 'plugins');
  mkdirSync(dir, { mode: 0o755 });
  const plugin = join(dir, 'testkit');
  cpSync(TESTKIT, plugin, { recursive: true });
  chmodSync(plugin, 0o755);
  return { dir, plugin };
}

async function load(dir: string) {
  const refused: { path: string; reason: string }[] = [];
  const config = loadConfig({}, { plugins: { builtins: false, dirs: [dir] } });
  const log = {
    debug() {},
    info() {},
    error() {},
    warn(meta: object | string) {
      if (typeof meta === 'object' && 'reason' in meta) refused.push(meta as { path: string; reason: string });
    },
  };
  const registry = await Registry.load(config, ROOT, log);
  return { types: registry.types().map((t) => t.type), refused };
}

describe('plugin trust', () => {
  it('loads a plugin from a folder only its owner can write', async () => {
    const { dir } = pluginsFolder();

    const { types, refused } = await load(dir);

    expect(types).toContain('test.noop');
    expect(refused).toEqual([]);
  });

  it('refuses, with a warning, a plugin folder every user can write', async () => {
    const { dir, plugin } = pluginsFolder();
    chmodSync(plugin, 0o777);

    const { types, refused } = await load(dir);

    expect(types).toEqual([]);
    expect(refused).toEqual([{ path: plugin, reason: expect.stringMatching(/writable by every user \(mode 777\)/) }]);
  });

  it('refuses a whole plugins folder every user can write', async () => {
    const { dir } = pluginsFolder();
    chmodSync(dir, 0o757);

    const { types, refused } = await load(dir);

    expect(types).toEqual([]);
    expect(refused.map((r) => r.path)).toEqual([dir]);
  });

  it('refuses an entry file every user can write', async () => {
    const { dir, plugin } = pluginsFolder();
    chmodSync(join(plugin, 'index.ts'), 0o666);

    const { types, refused } = await load(dir);

    expect(types).toEqual([]);
    expect(refused.map((r) => r.path)).toEqual([join(plugin, 'index.ts')]);
  });
});
