import { queueOfJobId, scheduleSpecSchema, SCHEDULE_NAME, type ScheduleSpec } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { fieldIssues, NotFoundError, ValidationError, type FieldIssue } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Producer } from '../producer.ts';
import type { QueueSet } from '../queues.ts';
import { decideRuns } from './decide.ts';
import { cronProblem, SlotCalculator } from './slots.ts';
import { ScheduleStore, type ScheduleSource, type ScheduleState, type StoredSchedule } from './store.ts';

/** Where the engine reads the time; tests pass one they move by hand. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Claimed slots whose jobs are not stored after this long are stored by the next tick. */
const PENDING_RECOVERY_MS = 15_000;

const UNFINISHED = new Set(['waiting', 'wait', 'active', 'delayed', 'prioritized', 'waiting-children']);

export interface ScheduleEngineOptions {
  redis: RedisClient;
  keys: Keys;
  producer: Producer;
  queues: QueueSet;
  log: Logger;
  clock?: Clock;
  /** How often the loop ticks. */
  tickMs: number;
  /** A slot younger than this is due; an older one counts as missed. */
  graceMs: number;
}

/** A schedule as the API shows it. */
export interface ScheduleView {
  name: string;
  spec: ScheduleSpec;
  source: ScheduleSource;
  version: number;
  createdAt: number;
  updatedAt: number;
  nextRunAt?: number;
  state: Omit<ScheduleState, 'version'> | undefined;
}

/**
 * Named schedules that produce jobs. Every process may run the engine; they
 * agree through Redis:
 * - a schedule is one entry per name, replaced whole when its spec changes;
 * - a tick reads a schedule's state, decides which slots to run, and claims
 *   them with a compare-and-set, so one process wins each decision;
 * - a schedule runs one job at a time: slots waiting their turn (made-up
 *   missed slots, a due one behind them) are kept in its state, in order;
 * - each run is submitted with the idempotency key `schedule:<name>:<slot>`,
 *   so even a slot stored twice (a crash between claim and store, recovered
 *   by the next tick) is one job.
 */
export class ScheduleEngine {
  readonly store: ScheduleStore;
  private readonly clock: Clock;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;

  constructor(private readonly options: ScheduleEngineOptions) {
    this.store = new ScheduleStore(options.redis, options.keys);
    this.clock = options.clock ?? systemClock;
  }

  /** Checks and stores a schedule; `changed` is false when an identical one was stored. */
  async put(name: string, input: unknown, source: ScheduleSource = 'api'): Promise<{ schedule: ScheduleView; changed: boolean }> {
    const spec = this.validate(name, input);
    const { changed } = await this.store.upsert(name, spec, source, this.clock.now());
    if (changed) this.options.log.info({ schedule: name, source }, 'schedule stored');
    return { schedule: (await this.get(name))!, changed };
  }

  async get(name: string): Promise<ScheduleView | undefined> {
    const stored = await this.store.get(name);
    return stored && this.view(stored);
  }

  async list(): Promise<ScheduleView[]> {
    return (await this.store.list()).map((s) => this.view(s));
  }

  async remove(name: string): Promise<void> {
    if (!(await this.store.remove(name))) throw new NotFoundError(`schedule ${name} not found`);
    this.options.log.info({ schedule: name }, 'schedule removed');
  }

  /** Writes the configured schedules; identical ones are left as they are. */
  async applyConfigured(schedules: Record<string, unknown>): Promise<void> {
    for (const [name, spec] of Object.entries(schedules)) {
      try {
        await this.put(name, spec, 'config');
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const where = err.issues.map((i) => `schedules.${name}.${i.field}: ${i.message}`).join('; ');
        throw new ValidationError(`invalid configured schedule: ${where}`, err.issues);
      }
    }
  }

  /** Starts ticking every `tickMs`. */
  start(): void {
    this.stopped = false;
    const loop = async () => {
      this.ticking = this.tick().catch((err) => this.options.log.error({ err }, 'schedule tick failed'));
      await this.ticking;
      if (!this.stopped) this.timer = setTimeout(loop, this.options.tickMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** Looks at every schedule once and produces the jobs that are due. */
  async tick(): Promise<void> {
    for (const stored of await this.store.list()) {
      try {
        await this.tickOne(stored);
      } catch (err) {
        this.options.log.error({ err, schedule: stored.name }, 'schedule tick failed');
      }
    }
  }

  private async tickOne(stored: StoredSchedule): Promise<void> {
    const now = this.clock.now();
    const { spec, meta, name } = stored;
    let raw = stored.rawState;
    let state = stored.state;

    // 1. A schedule written by an old process may lack state: start it now.
    if (!state || state.version !== meta.version) {
      const fresh: ScheduleState = { version: meta.version, handledUntil: now, runs: 0, skippedSlots: 0 };
      const set = await this.store.compareAndSet(name, raw, fresh);
      if (!set.ok) return;
      [raw, state] = [set.raw, fresh];
    }

    // 2. Slots another process claimed but may have died before storing.
    if (state.pending) {
      if (now - state.pending.at < PENDING_RECOVERY_MS) return;
      this.options.log.warn({ schedule: name, slots: state.pending.slots }, 'storing runs a stopped process claimed');
      await this.produce(stored, state, raw, state.pending.slots);
      return;
    }

    // 3. A disabled schedule lets its slots pass.
    if (!spec.enabled) {
      if (state.handledUntil < now) await this.store.compareAndSet(name, raw, { ...state, handledUntil: now });
      return;
    }

    // 4. Decide: which slots run, which are skipped, which wait.
    const slots = new SlotCalculator(spec, meta.anchorMs).window(state.handledUntil, now, spec.missedRuns.limit + 1);
    if (slots.count === 0 && state.queuedSlot === undefined && !state.backlog?.length) return;
    const busy = await this.isRunning(state.lastJobId);
    const decision = decideRuns({ spec, slots, now, graceMs: this.options.graceMs, busy, queuedSlot: state.queuedSlot, backlog: state.backlog });
    if (decision.missed > 0) {
      this.options.log.info({ schedule: name, missed: decision.missed, policy: spec.missedRuns.policy }, 'schedule missed slots');
    }

    // 5. Claim, then store the jobs.
    const claimed: ScheduleState = {
      ...state,
      handledUntil: Math.max(state.handledUntil, now),
      queuedSlot: decision.queuedSlot,
      backlog: decision.backlog.length ? decision.backlog : undefined,
      skippedSlots: state.skippedSlots + decision.skipped,
      pending: decision.runs.length ? { slots: decision.runs, at: now } : undefined,
    };
    const claim = await this.store.compareAndSet(name, raw, claimed);
    if (!claim.ok || !decision.runs.length) return;
    await this.produce(stored, claimed, claim.raw, decision.runs);
  }

  /** Submits one job per slot, then records the last one and clears the claim. */
  private async produce(stored: StoredSchedule, state: ScheduleState, raw: string | null, slots: number[]): Promise<void> {
    const { spec, name } = stored;
    const { retention, ...options } = spec.options;
    let lastJobId = state.lastJobId;
    let lastError: string | undefined;
    let runs = state.runs;

    for (const slot of slots) {
      const job = { ...options, type: spec.type, payload: spec.payload, idempotencyKey: `schedule:${name}:${slot}` };
      try {
        const submitted = await this.options.producer.submit(job, `schedule:${name}`, { retention });
        lastJobId = submitted.id;
        runs += submitted.duplicate ? 0 : 1;
      } catch (err) {
        // Storage down: keep the claim, so a later tick stores these slots.
        if ((err as Error).name === 'UnavailableError') throw err;
        lastError = (err as Error).message;
        this.options.log.error({ schedule: name, err: { message: lastError } }, 'schedule could not produce its job');
      }
    }

    const lastSlot = Math.max(...slots, state.lastSlot ?? 0);
    await this.store.compareAndSet(name, raw, { ...state, pending: undefined, lastSlot, lastJobId, lastError, runs });
  }

  private async isRunning(jobId: string | undefined): Promise<boolean> {
    const queue = jobId && queueOfJobId(jobId);
    if (!queue || !this.options.queues.has(queue)) return false;
    const state = await this.options.queues.get(queue).getJobState(jobId);
    return UNFINISHED.has(state);
  }

  private validate(name: string, input: unknown): ScheduleSpec {
    if (!SCHEDULE_NAME.test(name)) {
      throw new ValidationError('invalid schedule name', [{ field: 'name', message: `name must match ${SCHEDULE_NAME.source}` }]);
    }
    const parsed = scheduleSpecSchema.safeParse(input);
    if (!parsed.success) throw new ValidationError('invalid schedule', fieldIssues('', parsed.error.issues));
    const spec = parsed.data;

    const issues: FieldIssue[] = [];
    const problem = spec.cron && cronProblem(spec.cron, spec.timezone);
    if (problem) issues.push({ field: 'cron', message: problem });
    const { retention: _retention, ...options } = spec.options;
    const jobIssues = this.options.producer.validate({ ...options, type: spec.type, payload: spec.payload });
    issues.push(...jobIssues.map((i) => ({ ...i, field: i.field.startsWith('payload') || i.field === 'type' ? i.field : `options.${i.field}` })));
    if (issues.length) throw new ValidationError('invalid schedule', issues);
    return spec;
  }

  private view(stored: StoredSchedule): ScheduleView {
    const { version: _version, ...state } = stored.state ?? ({} as ScheduleState);
    const from = Math.max(this.clock.now(), stored.state?.handledUntil ?? 0);
    const nextRunAt = stored.spec.enabled ? new SlotCalculator(stored.spec, stored.meta.anchorMs).next(from) : undefined;
    return {
      name: stored.name,
      spec: stored.spec,
      source: stored.meta.source,
      version: stored.meta.version,
      createdAt: stored.meta.createdAt,
      updatedAt: stored.meta.updatedAt,
      nextRunAt,
      state: stored.state ? state : undefined,
    };
  }
}
