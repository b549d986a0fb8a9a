import { z } from '../../src/sdk/index.ts';

/** A column of the report: which row field it shows and how. */
export const columnSchema = z.object({
  /** The row field shown in this column. */
  key: z.string().min(1).max(100),
  /** Column heading; defaults to the key. */
  header: z.string().max(100).optional(),
  type: z.enum(['text', 'number', 'currency', 'date']).default('text'),
  /** Sum this column in a totals row (number and currency columns). */
  total: z.boolean().default(false),
  /** Relative width in the PDF, characters in Excel. */
  width: z.number().min(1).max(200).optional(),
});

export type Column = z.infer<typeof columnSchema>;

/**
 * Where the rows come from. A source URL is read in chunks:
 * `GET <url>?offset=<n>&limit=<chunkRows>` answering a JSON array of rows (or
 * `{ "rows": [...] }`); a chunk shorter than `chunkRows` is the last.
 */
export const sourceSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().min(100).max(120_000).default(30_000),
});

export const reportSpecSchema = z
  .object({
    title: z.string().min(1).max(200),
    columns: z.array(columnSchema).min(1).max(50),
    /** The rows, inline; or give `source` instead. */
    rows: z.array(z.record(z.string(), z.unknown())).max(10_000).optional(),
    source: sourceSchema.optional(),
    /** Rows per chunk: the unit of progress and of resuming after a failure. */
    chunkRows: z.number().int().min(1).max(50_000).default(1000),
    /** File name without extension; default made from the title. */
    fileName: z
      .string()
      .regex(/^[\w. -]{1,100}$/, 'letters, digits, spaces and _ . - only')
      .optional(),
  })
  .refine((s) => (s.rows === undefined) !== (s.source === undefined), {
    message: 'give exactly one of rows and source',
    path: ['rows'],
  });

export type ReportSpec = z.infer<typeof reportSpecSchema>;
export type Row = Record<string, unknown>;

/** The file name a report gets: its own, or the title made safe. */
export function reportFileName(spec: ReportSpec, extension: string): string {
  const base = spec.fileName ?? (spec.title.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'report');
  return `${base}.${extension}`;
}

/** A cell's number, for totals and numeric columns; undefined when not a finite number. */
export function toNumber(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Running sums of the columns marked `total`. */
export class Totals {
  readonly sums = new Map<string, number>();

  constructor(private readonly columns: Column[]) {
    for (const c of columns) if (c.total) this.sums.set(c.key, 0);
  }

  get any(): boolean {
    return this.sums.size > 0;
  }

  add(row: Row): void {
    for (const key of this.sums.keys()) this.sums.set(key, this.sums.get(key)! + (toNumber(row[key]) ?? 0));
  }

  /** A row holding the sums, with `label` in the first non-total column. */
  row(label = 'Total'): Row {
    const out: Row = Object.fromEntries(this.sums);
    const labelColumn = this.columns.find((c) => !c.total);
    if (labelColumn) out[labelColumn.key] = label;
    return out;
  }
}
