import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * A connection to a single Redis server or to a Redis Cluster. Both speak the
 * same commands; in a cluster every multi-key command, MULTI or script must
 * touch keys of one hash slot only (see keys.ts).
 */
export type RedisClient = Redis | Cluster;

/**
 * How a connection behaves while Redis is away:
 * - `command`: fail fast, so an API request can answer 503 instead of hanging;
 * - `blocking`: wait forever and reconnect, as BullMQ workers need.
 */
export type ConnectionRole = 'command' | 'blocking';

/** URL schemes that name cluster nodes: `redis+cluster://h1:p1,h2:p2`. */
const CLUSTER_SCHEMES = ['redis+cluster:', 'rediss+cluster:'];

/** Reconnect quickly at first, then every 2 s at most, for ever. */
const reconnectDelay = (times: number) => Math.min(100 * times, 2000);

/**
 * Opens a connection. A `redis+cluster://` (or `rediss+cluster://`) URL
 * naming one or more nodes opens a Redis Cluster client, which finds the
 * other nodes itself; any other URL a single-server client.
 */
export function createRedis(url: string, role: ConnectionRole, name?: string): RedisClient {
  const perRole: RedisOptions =
    role === 'command'
      ? { maxRetriesPerRequest: 1, connectTimeout: 5000 }
      : { maxRetriesPerRequest: null };

  if (isClusterUrl(url)) {
    const { nodes, options } = parseClusterUrl(url);
    const clusterOptions: ClusterOptions = {
      redisOptions: { ...options, ...perRole, connectionName: name },
      clusterRetryStrategy: reconnectDelay,
      enableOfflineQueue: role === 'blocking',
      // A node that moved or failed over: follow it instead of failing the command.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 500,
    };
    return new Cluster(nodes, clusterOptions);
  }

  return new Redis(url, {
    connectionName: name,
    lazyConnect: false,
    retryStrategy: reconnectDelay,
    enableOfflineQueue: role === 'blocking',
    ...perRole,
  });
}

export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEMES.some((scheme) => url.startsWith(`${scheme}//`));
}

/**
 * Turns a plain `redis://host:port` URL into the cluster form, for the
 * `redis.cluster` setting. A URL already in cluster form is returned as is.
 */
export function toClusterUrl(url: string): string {
  if (isClusterUrl(url)) return url;
  return url.replace(/^(rediss?):\/\//, '$1+cluster://');
}

/**
 * Reads `redis+cluster://[user:password@]host:port[,host:port...]`. The
 * credentials and TLS (the `rediss` form) apply to every node.
 */
export function parseClusterUrl(url: string): { nodes: { host: string; port: number }[]; options: RedisOptions } {
  const tls = url.startsWith('rediss+cluster:');
  const rest = url.slice(url.indexOf('//') + 2).replace(/\/.*$/, '');
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : '';
  const hosts = at >= 0 ? rest.slice(at + 1) : rest;

  const nodes = hosts
    .split(',')
    .filter(Boolean)
    .map((node) => {
      const colon = node.lastIndexOf(':');
      const host = colon > 0 ? node.slice(0, colon) : node;
      const port = colon > 0 ? Number(node.slice(colon + 1)) : 6379;
      if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
        throw new Error(`invalid cluster node "${node}" in the Redis URL`);
      }
      return { host: host.replace(/^\[|\]$/g, ''), port };
    });
  if (!nodes.length) throw new Error('a redis+cluster:// URL must name at least one node');

  const options: RedisOptions = {};
  if (credentials) {
    const colon = credentials.indexOf(':');
    const username = colon >= 0 ? credentials.slice(0, colon) : '';
    const password = colon >= 0 ? credentials.slice(colon + 1) : credentials;
    if (username) options.username = decodeURIComponent(username);
    if (password) options.password = decodeURIComponent(password);
  }
  if (tls) options.tls = {};
  return { nodes, options };
}

/** Resolves when the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/**
 * The servers that hold data: the client itself, or every master of a
 * cluster. Settings such as `maxmemory-policy` are per server.
 */
export function dataNodes(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}
