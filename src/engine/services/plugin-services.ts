import type { Job } from 'bullmq';
import type { Config } from '../../config/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import type { HandlerContext } from '../../sdk/types.ts';
import type { Producer } from '../producer.ts';
import { Databases } from './databases.ts';
import { Flows } from './flows.ts';
import { cacheWriter, pluginKv } from './kv.ts';

/** The services part of a handler's context. */
export type ServiceContext = Pick<HandlerContext, 'db' | 'kv' | 'cache' | 'flow' | 'children'>;

/**
 * What the SDK offers every handler besides HTTP: configured databases, a
 * key-value store per plugin, cache entries and flows. One per process.
 */
export class PluginServices {
  readonly databases: Databases;
  readonly flows: Flows;

  constructor(
    config: Config,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    producer: Producer,
  ) {
    this.databases = new Databases(config.databases);
    this.flows = new Flows(redis, keys, producer);
  }

  /** The services for one job of `plugin`. */
  forJob(plugin: string, job: Job): ServiceContext {
    return {
      db: (name) => this.databases.get(name),
      kv: pluginKv(this.redis, this.keys, plugin),
      cache: cacheWriter(this.redis, this.keys),
      flow: this.flows.client(`plugin:${plugin}`),
      children: () => this.flows.childResults(job),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.flows.close(), this.databases.close()]);
  }
}
