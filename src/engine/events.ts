import { EventEmitter } from 'node:events';
import type { Logger } from './logger.ts';

/** What happened to a job, as the engine tells metrics, history and logs. */
export interface JobEventMap {
  /** A handler started an attempt. `waitMs`: from ready to started. */
  'attempt.started': { queue: string; jobId: string; type: string; attempt: number; waitMs: number; tenant?: string };
  /** An attempt ended. */
  'attempt.ended': {
    queue: string;
    jobId: string;
    type: string;
    attempt: number;
    durationMs: number;
    /** `interrupted`: stopped by a worker shutdown and put back to wait, not a failure. */
    outcome: 'completed' | 'failed' | 'cancelled' | 'interrupted';
    errorName?: string;
    /** True when no retry follows: the job is done, one way or the other. */
    final: boolean;
  };
  /** A job failed for good and now lives in the DLQ as entry `entryId`. */
  'job.dead-lettered': { queue: string; jobId: string; entryId: string; type: string; reason: string; tenant?: string };
  /** A DLQ entry was replayed as a new job. */
  'job.replayed': { queue: string; entryId: string; jobId: string; type: string; edited: boolean };
  /** A job ended as cancelled; `from` is the state it was cancelled in. */
  'job.cancelled': { queue: string; jobId: string; type: string; from: 'waiting' | 'delayed' | 'active'; tenant?: string };
  /** A job was put back without an attempt because its downstream's breaker is open. */
  'job.deferred': { queue: string; jobId: string; type: string; downstream: string; delayMs: number };
  /** A job's fallback ran: another job type was submitted, or a function ran. */
  'job.fallback': { queue: string; jobId: string; type: string; kind: 'job' | 'function'; reason: string; fallbackJobId?: string };
  /** A downstream's breaker opened: its jobs are deferred until probes succeed. */
  'breaker.opened': { downstream: string; failures: number; requests: number };
  /** A downstream's breaker closed after a successful probe. */
  'breaker.closed': { downstream: string };
}

export type JobEventName = keyof JobEventMap;

/**
 * A typed event emitter whose listeners cannot hurt the emitter: a listener
 * that throws is logged and skipped, so telemetry never breaks a job's
 * acknowledgement or retry.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly log?: Logger) {
    this.emitter.setMaxListeners(100);
  }

  on<E extends JobEventName>(event: E, listener: (payload: JobEventMap[E]) => void): () => void {
    const safe = (payload: JobEventMap[E]) => {
      try {
        listener(payload);
      } catch (err) {
        this.log?.error({ err, event }, 'job event listener failed');
      }
    };
    this.emitter.on(event, safe);
    return () => this.emitter.off(event, safe);
  }

  emit<E extends JobEventName>(event: E, payload: JobEventMap[E]): void {
    this.emitter.emit(event, payload);
  }
}
