/** One problem with a submission, named by its field path (`payload.url`). */
export interface FieldIssue {
  field: string;
  message: string;
}

/** The submission is wrong; nothing was stored. */
export class ValidationError extends Error {
  override name = 'ValidationError';

  constructor(
    message: string,
    readonly issues: FieldIssue[],
  ) {
    super(message);
  }
}

/**
 * Redis could not take or give the data; nothing was stored. The Redis error
 * is kept as `reason`, not `cause`: h3 replaces a thrown error by its cause,
 * and the API must still see this class.
 */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
  readonly reason: unknown;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.reason = options?.cause;
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The request does not fit the job's state, e.g. cancelling a completed job. */
export class ConflictError extends Error {
  override name = 'ConflictError';

  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Turns schema issues into field issues under a path prefix. */
export function fieldIssues(
  prefix: string,
  issues: { path: PropertyKey[]; message: string; code?: string; expected?: unknown }[],
): FieldIssue[] {
  return issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)',
    // zod says "expected nonoptional" for a required field left out.
    message: issue.code === 'invalid_type' && issue.expected === 'nonoptional' ? 'is required' : issue.message,
  }));
}

/** The first issue of each field: one entry per field, whichever check found it first. */
export function onePerField(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => !seen.has(issue.field) && Boolean(seen.add(issue.field)));
}

/** The reason a worker's running handlers are aborted when its drain limit passes. */
export class WorkerShutdownError extends Error {
  override name = 'WorkerShutdownError';

  constructor(drainTimeoutMs: number) {
    super(`worker shut down; the job did not finish within the ${drainTimeoutMs} ms drain limit`);
  }
}
