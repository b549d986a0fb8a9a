/** The shapes the dashboard reads from the API (see the routes under src/api). */

export interface SessionInfo {
  name: string;
  scopes: string[];
  csrfToken?: string;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  avg: number | null;
}

export interface WindowSummary {
  completed: number;
  failed: number;
  retried: number;
  failureRate: number | null;
  perMinute: number;
  waitMs: Percentiles;
  runMs: Percentiles;
}

export interface TypeDepth {
  waiting: number;
  delayed: number;
  active: number;
  dlq: number;
}

export interface QueueMetrics {
  queue: string;
  depth: Record<string, number>;
  /** Per job type; states in `estimated` were scaled from a sample. */
  depthByType?: { types: Record<string, TypeDepth>; estimated: string[]; readAt: number };
  window: WindowSummary;
  lastMinute: WindowSummary;
  types: ({ type: string } & WindowSummary)[];
  series: { t: number[]; completed: number[]; failed: number[]; waitP95: (number | null)[]; runP95: (number | null)[] };
}

export interface MetricsSnapshot {
  generatedAt: number;
  rangeMs: number;
  stepMs: number;
  queues: QueueMetrics[];
}

export interface JobSummary {
  id: string;
  queue: string;
  type: string;
  state: string;
  priority: string | null;
  tenant: string | null;
  createdAt: number;
  attemptsMade: number;
  error: string | null;
}

export interface JobPage {
  jobs: JobSummary[];
  next?: string;
  scanned: number;
}

export interface Preview {
  text: string;
  truncated: boolean;
  bytes: number;
}

export interface JobDetail {
  id: string;
  type: string;
  queue: string;
  state: string;
  payload: Preview;
  result?: Preview;
  error?: string;
  progress: unknown;
  options: Record<string, unknown>;
  submittedBy?: string;
  attemptsMade: number;
  timestamps: { createdAt: number; startedAt?: number; finishedAt?: number };
}

export interface TimelineEntry {
  at: number;
  kind: string;
  message: string;
  by?: string;
  worker?: string;
  plugin?: string;
  durationMs?: number;
  error?: { name: string; message: string };
}
