import type { Priority } from './priority.ts';

/** One queue as `GET /api/v1/queues` shows it. */
export interface QueueSummary {
  name: string;
  /** Weighted fair scheduling on (else strict BullMQ priority). */
  fair: boolean;
  concurrency: number;
  limiter?: { max: number; durationMs: number };
  /** Job types routed here by configuration. */
  types: string[];
  weights: Record<Priority, number>;
  waiting: number;
  /** Waiting jobs per class (jobs a worker already fetched are active). */
  waitingByPriority: Record<Priority, number>;
  /** The tenants with the most jobs waiting their turn; the tenant `""` is jobs without one. */
  topTenants: { tenant: string; waiting: number }[];
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}
