import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findRollbackVersion, pluginHistory, requestFleetReload, type Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, tempDir, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { flowPlugin, writePlugin } from './plugin-files.ts';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.stop()));
});

/**
 * A process standing for one machine: plugin folder and data folder of its
 * own, the Redis shared with the others.
 */
async function machine(prefix: string, options: { workers?: boolean; keepFilesMaxBytes?: number } = {}) {
  const dir = tempDir('tm-rollback-plugins-');
  writePlugin(dir, 'flow', flowPlugin('1.0.0'));
  const rt = await startTestRuntime({
    workers: options.workers ?? true,
    config: {
      redis: { prefix },
      plugins: { dirs: [dir], builtins: false, watch: false, keepFilesMaxBytes: options.keepFilesMaxBytes },
    },
  });
  runtimes.push(rt);
  return { rt, dir, forgetLocalCopies: () => rmSync(join(rt.config.dataDir, 'plugins', 'versions'), { recursive: true, force: true }) };
}

async function finished(rt: Runtime, id: string) {
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return job.state === 'completed' ? job : undefined;
  });
}

describe('plugin rollback', () => {
  it('rolls back every machine from the copy in Redis when no local copy is left', async () => {
    const prefix = uniquePrefix();
    const worker = await machine(prefix);
    const api = await machine(prefix, { workers: false });
    const v1 = worker.rt.registry.get('flow.work')!.plugin.hash;

    // 1. Version 2.0.0 reaches both machines.
    for (const m of [worker, api]) writePlugin(m.dir, 'flow', flowPlugin('2.0.0'));
    const update = await requestFleetReload(api.rt.redis, api.rt.keys);
    expect(update.outcomes.map((o) => o.report!.loaded[0]?.version)).toEqual(['2.0.0', '2.0.0']);

    // 2. Neither machine keeps a copy of 1.0.0 under its data folder any more.
    worker.forgetLocalCopies();
    api.forgetLocalCopies();
    const history = await pluginHistory(api.rt.redis, api.rt.keys);
    expect(history.flow.find((r) => r.hash === v1)!.files).toMatchObject({ inRedis: true });

    // 3. The rollback, asked of the API machine, restores the files on both and reloads.
    const restored = await findRollbackVersion(api.rt.redis, api.rt.keys, api.rt.registry, 'flow', v1);
    const rollback = await requestFleetReload(api.rt.redis, api.rt.keys, { restore: { name: 'flow', hash: v1 } });
    expect(restored.version).toBe('1.0.0');
    expect(rollback.missing).toEqual([]);
    expect(rollback.outcomes.map((o) => [o.error, o.report!.loaded[0]?.version])).toEqual([
      [undefined, '1.0.0'],
      [undefined, '1.0.0'],
    ]);
    for (const m of [worker, api]) {
      expect(readFileSync(join(m.dir, 'flow', 'index.ts'), 'utf8')).toBe(flowPlugin('1.0.0'));
      expect(m.rt.registry.get('flow.work')!.plugin.hash).toBe(v1);
    }
    const { id } = await api.rt.producer.submit({ type: 'flow.work', payload: { n: 1 } });
    expect((await finished(worker.rt, id)).attempts[0]).toMatchObject({ pluginVersion: '1.0.0', pluginHash: v1 });
  });

  it('keeps no files in Redis above plugins.keepFilesMaxBytes, and says why a rollback cannot find them', async () => {
    const one = await machine(uniquePrefix(), { keepFilesMaxBytes: 100 });
    const v1 = one.rt.registry.get('flow.work')!.plugin.hash;
    writePlugin(one.dir, 'flow', flowPlugin('2.0.0'));
    await one.rt.fleet!.reloadHere('test');

    const record = (await pluginHistory(one.rt.redis, one.rt.keys)).flow.find((r) => r.hash === v1)!;
    expect(record.files).toEqual({ inRedis: false, bytes: Buffer.byteLength(flowPlugin('1.0.0')) });
    expect(await one.rt.redis.exists(one.rt.keys.pluginFiles('flow', v1))).toBe(0);

    // The local copy still serves a rollback on this machine; once gone, the refusal names the limit.
    await expect(findRollbackVersion(one.rt.redis, one.rt.keys, one.rt.registry, 'flow', v1)).resolves.toMatchObject({ version: '1.0.0' });
    one.forgetLocalCopies();
    await expect(findRollbackVersion(one.rt.redis, one.rt.keys, one.rt.registry, 'flow', v1)).rejects.toThrow(
      /no copy of flow version [0-9a-f]{16} is kept in Redis \(\d+ bytes: over plugins.keepFilesMaxBytes/,
    );
  });
});
