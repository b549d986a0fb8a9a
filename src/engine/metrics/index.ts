import { HOUR } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import type { QueueSet } from '../queues.ts';
import { queueDepths, type QueueDepth } from './depth.ts';
import type { QueueSummary } from '../../core/index.ts';
import { queueSummaries } from '../fair/overview.ts';
import { MetricsStore } from './reader.ts';
import { defaultStepMs, throughput, type ThroughputSummary } from './snapshot.ts';
import type { MetricCell } from './cells.ts';
import { TypeDepthReader, type QueueTypeDepths } from './type-depth.ts';

export * from './histogram.ts';
export * from './cells.ts';
export * from './recorder.ts';
export * from './reader.ts';
export * from './snapshot.ts';
export * from './depth.ts';
export * from './type-depth.ts';

export interface MetricsQuery {
  /** How far back, ms (default one hour, at most the retention). */
  rangeMs?: number;
  /** Chart step, ms (default: a minute for an hour, else ~144 points). */
  stepMs?: number;
  /** Only these queues (default all). */
  queues?: string[];
  /** Only this job type. */
  type?: string;
}

/** Every queue's depth and throughput over a range, as the API returns it. */
export interface MetricsSnapshot {
  generatedAt: number;
  rangeMs: number;
  stepMs: number;
  queues: ({ depth: QueueDepth; depthByType: QueueTypeDepths } & ThroughputSummary)[];
}

/**
 * Metrics as readers see them: depth counted from BullMQ's state lists (per
 * job type from a bounded read, see TypeDepthReader), and throughput and
 * latency from the per-minute hashes every worker process adds into (see
 * MetricsRecorder).
 */
export class MetricsReader {
  readonly store: MetricsStore;
  private readonly typeDepth: TypeDepthReader;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly queues: QueueSet,
    private readonly retentionMs: number,
  ) {
    this.store = new MetricsStore(redis, keys, retentionMs);
    this.typeDepth = new TypeDepthReader(redis, keys);
  }

  get queueNames(): readonly string[] {
    return this.queues.names;
  }

  async snapshot(query: MetricsQuery = {}): Promise<MetricsSnapshot> {
    const rangeMs = Math.min(Math.max(query.rangeMs ?? HOUR, 60_000), this.retentionMs);
    const stepMs = Math.max(query.stepMs ?? defaultStepMs(rangeMs), 60_000);
    const names = query.queues?.length ? this.queues.names.filter((q) => query.queues!.includes(q)) : this.queues.names;

    const [depths, byType, flows] = await Promise.all([
      queueDepths(this.queues, names, this.redis, this.keys),
      this.typeDepth.read(names),
      throughput(this.store, { rangeMs, stepMs, queues: names, type: query.type }),
    ]);
    return {
      generatedAt: Date.now(),
      rangeMs,
      stepMs,
      queues: flows.map((flow) => ({ ...flow, depth: depths[flow.queue], depthByType: onlyType(byType[flow.queue], query.type) })),
    };
  }

  /** Each queue's counts by state, class and tenant, with its configuration. */
  async queueSummaries(): Promise<QueueSummary[]> {
    return queueSummaries(this.queues, this.redis, this.keys);
  }

  async depths(): Promise<Record<string, QueueDepth>> {
    return queueDepths(this.queues, this.queues.names, this.redis, this.keys);
  }

  /** Waiting, delayed, active and DLQ jobs of each queue per job type. */
  async depthsByType(): Promise<Record<string, QueueTypeDepths>> {
    return this.typeDepth.read(this.queues.names);
  }

  async totals(): Promise<Map<string, MetricCell>> {
    return this.store.totals();
  }
}

function onlyType(depths: QueueTypeDepths, type: string | undefined): QueueTypeDepths {
  if (type === undefined) return depths;
  return { ...depths, types: depths.types[type] ? { [type]: depths.types[type] } : {} };
}
