import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../src/redis/index.ts';
import { trackProcess } from './cleanup.ts';

const run = promisify(execFile);

export interface TestCluster {
  /** `redis+cluster://` URL naming every master. */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of the test's own: `masters` `redis-server` processes with
 * `--cluster-enabled yes` on free ports (client and bus), joined and given
 * all 16384 slots by `redis-cli --cluster create`. Resolves once every node
 * reports `cluster_state:ok`.
 */
export async function startTestCluster(masters = 3): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-cluster-'));
  const ports: number[] = [];
  const children: ChildProcess[] = [];

  const stop = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
  };

  try {
    // 1. The nodes, each with its own folder and cluster bus port.
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--cluster-port', String(busPort),
          '--bind', '127.0.0.1',
          '--dir', nodeDir,
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', '2000',
          '--save', '',
          '--appendonly', 'no',
        ],
        { stdio: 'ignore' },
      );
      trackProcess(child.pid);
      children.push(child);
      ports.push(port);
    }
    await Promise.all(ports.map((port) => waitPing(port)));

    // 2. Join them and spread the slots.
    await run('redis-cli', [
      '--cluster', 'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', '0',
      '--cluster-yes',
    ]);
    await Promise.all(ports.map((port) => waitClusterOk(port)));
  } catch (err) {
    await stop();
    throw err;
  }

  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, stop };
}

/** The node (port) that owns the slot of `key`. */
export async function nodeOfKey(cluster: TestCluster, key: string): Promise<number> {
  const probe = new Redis({ port: cluster.ports[0], host: '127.0.0.1' });
  try {
    const slot = await probe.cluster('KEYSLOT', key);
    const slots = await probe.cluster('SLOTS');
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no node owns slot ${slot}`);
    return range[2][1];
  } finally {
    probe.disconnect();
  }
}

async function waitPing(port: number): Promise<void> {
  await until(async () => {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  }, `redis-server on ${port} did not start`);
}

async function waitClusterOk(port: number): Promise<void> {
  await until(async () => {
    const probe = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      const info = (await probe.cluster('INFO')) as string;
      return info.includes('cluster_state:ok');
    } finally {
      probe.disconnect();
    }
  }, `cluster node ${port} did not reach cluster_state:ok`);
}

async function until(check: () => Promise<boolean>, message: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await check().catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 100));
  }
}
