/**
 * Key naming. BullMQ keys are `<prefix>:{<queue>}:...`: the braces are a hash
 * tag, so all keys of one queue share a Redis Cluster slot. TaskMaster's own
 * keys live beside them under the same prefix; keys that one MULTI or script
 * touches together carry one hash tag of their own (`{workers}`), so that they
 * too share a slot on a cluster. A key used only on its own needs no tag.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  /** The name BullMQ is given for a TaskMaster queue. */
  bullQueue(queue: string): string {
    return `{${queue}}`;
  }

  /** The hash BullMQ keeps for one job. */
  job(queue: string, jobId: string): string {
    return `${this.prefix}:{${queue}}:${jobId}`;
  }

  /**
   * Hash of one minute's job metrics (minute = epoch ms / 60 000), all
   * processes adding into it. Every metrics key shares the `{metrics}` tag.
   */
  metricsMinute(minute: number): string {
    return `${this.prefix}:{metrics}:m:${minute}`;
  }

  /** Hash of job metrics counted since the first start, for Prometheus counters. */
  metricsTotals(): string {
    return `${this.prefix}:{metrics}:totals`;
  }

  /**
   * List of a job's history entries (JSON). It is BullMQ's own job log list,
   * which BullMQ deletes together with the job, so retention removes both.
   */
  jobHistory(queue: string, jobId: string): string {
    return `${this.job(queue, jobId)}:logs`;
  }

  /** A dashboard session, by the SHA-256 of its cookie token. */
  session(tokenHash: string): string {
    return `${this.prefix}:session:${tokenHash}`;
  }

  /**
   * A key that is never written, read by the worker watchdog: it lives in
   * the queue's slot so the read travels to the node the worker blocks on.
   */
  watchdogProbe(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:probe`;
  }

  /** One of BullMQ's own keys of a queue, e.g. `failed` (sorted set of failed job ids). */
  bullKey(queue: string, name: string): string {
    return `${this.prefix}:{${queue}}:${name}`;
  }

  /** Sorted set of worker processes by last heartbeat (ms). */
  workers(): string {
    return `${this.prefix}:{workers}`;
  }

  /** Hash of worker process id to its JSON description. */
  workerInfo(): string {
    return `${this.prefix}:{workers}:info`;
  }

  /** Stream of audit entries: who did what, when, on which job. */
  audit(): string {
    return `${this.prefix}:audit`;
  }

  /** Hash of API key hash (hex) to the key's JSON record; the `{apikeys}` tag keeps the key hashes in one slot. */
  apiKeys(): string {
    return `${this.prefix}:{apikeys}:byhash`;
  }

  /** Hash of API key id to its hash (hex); shares the hash tag with `apiKeys`. */
  apiKeyIds(): string {
    return `${this.prefix}:{apikeys}:byid`;
  }

  /** Hash of API key name to its id; shares the `apikeys` tag. */
  apiKeyNames(): string {
    return `${this.prefix}:{apikeys}:byname`;
  }

  /** Set once the first-start admin key was generated; shares the `apikeys` tag. */
  apiKeysBootstrap(): string {
    return `${this.prefix}:{apikeys}:bootstrap`;
  }

  /** Token bucket of one API key's submissions. */
  rateBucket(keyId: string): string {
    return `${this.prefix}:ratelimit:${keyId}`;
  }

  /**
   * Hashes of schedules by name: `specs` (the definition as given), `meta`
   * (version, content hash, anchor) and `state` (what was run). One hash tag,
   * so a script may change all three at once.
   */
  schedules(part: 'specs' | 'meta' | 'state'): string {
    return `${this.prefix}:{schedules}:${part}`;
  }

  /** A plugin's key-value entry, namespaced by plugin name. */
  pluginKv(plugin: string, key: string): string {
    return `${this.prefix}:kv:${plugin}:${key}`;
  }

  /** A cache entry written for other services to read (`cache.warm`). */
  cache(key: string): string {
    return `${this.prefix}:cache:${key}`;
  }

  /** Set of `<queue>|<jobId>` of jobs waiting for a plugin to provide `type`. */
  parked(type: string): string {
    return `${this.prefix}:parked:${type}`;
  }

  /** Pub/sub channel on which reloads are asked of every process. */
  pluginReloads(): string {
    return `${this.prefix}:plugins:reloads`;
  }

  /** Sorted set of the processes that answer reloads, by last sign of life (ms). */
  pluginReloaders(): string {
    return `${this.prefix}:plugins:reloaders`;
  }

  /** Hash of process id to its JSON outcome of one reload request. */
  pluginReloadOutcomes(requestId: string): string {
    return `${this.prefix}:plugins:reload:${requestId}`;
  }

  /** Hash of content hash to the JSON record of each version of a plugin ever loaded. */
  pluginHistory(name: string): string {
    return `${this.prefix}:plugins:history:${name}`;
  }

  /** Hash of relative path to content: the files of one plugin version, for rollbacks anywhere. */
  pluginFiles(name: string, hash: string): string {
    return `${this.prefix}:plugins:files:${name}:${hash}`;
  }

  /** Set of the names of plugins with a history. */
  pluginNames(): string {
    return `${this.prefix}:plugins:names`;
  }

  /** Hash of a stored file's metadata (report outputs); expires with the file. */
  file(id: string): string {
    return `${this.prefix}:file:${id}`;
  }

  /**
   * One user's in-app notifications: `items` (hash id to JSON), `order`
   * (sorted set by time) and `read` (set of ids). The hash tag keeps the three
   * in one Cluster slot so one script can change them together.
   */
  inbox(userId: string): { items: string; order: string; read: string } {
    const base = `${this.prefix}:{inbox:${userId}}`;
    return { items: `${base}:items`, order: `${base}:order`, read: `${base}:read` };
  }

  /** Pub/sub channel that announces a user's new notifications. */
  inboxChannel(userId: string): string {
    return `${this.prefix}:inbox-events:${userId}`;
  }

  /**
   * Prefix of a fair queue's scheduling keys: `state` (hash of passes and
   * counters), `tenants` (hash of tenant settings), `ring:<class>` (tenants
   * in turn), `q:<class>:<tenant>` (listed jobs), `running:<tenant>`. All in
   * the queue's hash tag, so one script may touch them with BullMQ's keys.
   */
  fair(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:fair:`;
  }

  /** Sorted set of a queue's DLQ entry ids by the time they failed (ms). */
  dlq(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:dlq`;
  }

  /** Hash of DLQ entry id to the entry, JSON. */
  dlqEntries(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:dlq:entries`;
  }

  /** Hash of DLQ entry id to the list of its replays, JSON. */
  dlqReplays(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:dlq:replays`;
  }

  /** Hash of job id to its latest DLQ entry id. */
  dlqByJob(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:dlq:by-job`;
  }

  /** Sorted set of a queue's cancelled job ids by the time they were cancelled (ms). */
  cancelled(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:cancelled`;
  }

  /** Hash of cancelled job id to the job as it ended, JSON. */
  cancelledEntries(queue: string): string {
    return `${this.prefix}:{${queue}}:tm:cancelled:entries`;
  }

  /** Hash holding one circuit breaker's state; the downstream is its own hash tag. */
  breaker(downstream: string): string {
    return `${this.prefix}:breaker:{${downstream}}`;
  }

  /**
   * Sorted set of downstream names (as in `breaker`) by the last time a
   * result was counted for them (ms): the index that lists every breaker.
   */
  breakerIndex(): string {
    return `${this.prefix}:breakers`;
  }

  /** Held by the process running this interval's retention pass. */
  retentionLock(): string {
    return `${this.prefix}:retention:lock`;
  }

  /** Pub/sub channel on which cancel requests reach the worker running the job. */
  cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }
}
