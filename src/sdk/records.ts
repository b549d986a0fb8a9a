import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { z } from 'zod';
import type { Queryable } from './services.ts';

/** Formats of tabular data TaskMaster reads and writes. */
export const RECORD_FORMATS = ['csv', 'ndjson'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

/** One record read from a source, or why it could not be read. */
export interface SourceRecord {
  /** 1-based position of the record among the source's records (the CSV header is not one). */
  index: number;
  record?: Record<string, unknown>;
  error?: string;
}

/**
 * Reads CSV (first line is the header) or NDJSON records one by one from a
 * byte stream, never holding more than one record. A line that does not
 * parse becomes a record with an `error`, not a failure of the whole source.
 */
export async function* readRecords(source: Readable | AsyncIterable<Uint8Array>, format: RecordFormat): AsyncIterable<SourceRecord> {
  const input = source instanceof Readable ? source : Readable.from(source);
  let index = 0;

  if (format === 'ndjson') {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      index++;
      try {
        const value = JSON.parse(line);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) yield { index, error: 'line is not a JSON object' };
        else yield { index, record: value };
      } catch (err) {
        yield { index, error: `invalid JSON: ${(err as Error).message}` };
      }
    }
    return;
  }

  const parser = input.pipe(parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }));
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    index++;
    yield { index, record };
  }
}

/** The type of one column, as an import or feed declares it. */
export const columnSpecSchema = z
  .object({
    type: z.enum(['text', 'integer', 'number', 'boolean', 'timestamp', 'json']).default('text'),
    required: z.boolean().default(false),
    /** A regular expression a text value must match. */
    pattern: z.string().optional(),
    maxLength: z.number().int().min(1).optional(),
  })
  .strict();

/** Columns by name: what a valid record holds. */
export const columnsSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/), columnSpecSchema);
export type ColumnSpecs = z.infer<typeof columnsSchema>;

/** Checks one record against column specs: a row of typed values, or what is wrong with it. */
export type RowValidator = (record: Record<string, unknown>) => { row: Record<string, unknown> } | { errors: string[] };

/**
 * Builds a validator from column specs. Strings (as CSV gives them) are
 * converted to the column's type; an empty string is a missing value.
 * Fields not declared are ignored.
 */
export function rowValidator(columns: ColumnSpecs): RowValidator {
  const entries = Object.entries(columns);
  return function validateRow(record) {
    const row: Record<string, unknown> = {};
    const errors: string[] = [];
    for (const [name, spec] of entries) {
      const raw = record[name];
      if (raw === undefined || raw === null || raw === '') {
        if (spec.required) errors.push(`${name}: required`);
        row[name] = null;
        continue;
      }
      const converted = convert(raw, spec);
      if ('error' in converted) errors.push(`${name}: ${converted.error}`);
      else row[name] = converted.value;
    }
    return errors.length ? { errors } : { row };
  };
}

function convert(raw: unknown, spec: z.infer<typeof columnSpecSchema>): { value: unknown } | { error: string } {
  const text = typeof raw === 'string' ? raw : undefined;
  switch (spec.type) {
    case 'integer': {
      const n = typeof raw === 'number' ? raw : Number(text);
      return Number.isSafeInteger(n) && (text === undefined || /^-?\d+$/.test(text)) ? { value: n } : { error: `not an integer: ${String(raw).slice(0, 40)}` };
    }
    case 'number': {
      const n = typeof raw === 'number' ? raw : text !== undefined && text.trim() !== '' ? Number(text) : NaN;
      return Number.isFinite(n) ? { value: n } : { error: `not a number: ${String(raw).slice(0, 40)}` };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      const t = text?.toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return { value: true };
      if (t === 'false' || t === '0' || t === 'no') return { value: false };
      return { error: `not a boolean: ${String(raw).slice(0, 40)}` };
    }
    case 'timestamp': {
      const ms = typeof raw === 'number' ? raw : Date.parse(String(raw));
      return Number.isFinite(ms) ? { value: new Date(ms).toISOString() } : { error: `not a timestamp: ${String(raw).slice(0, 40)}` };
    }
    case 'json':
      return { value: JSON.stringify(raw) };
    default: {
      const value = typeof raw === 'string' ? raw : JSON.stringify(raw);
      if (spec.maxLength && value.length > spec.maxLength) return { error: `longer than ${spec.maxLength} characters` };
      if (spec.pattern && !new RegExp(spec.pattern).test(value)) return { error: `does not match ${spec.pattern}` };
      return { value };
    }
  }
}

/** A plain SQL identifier, optionally schema-qualified (`orders`, `sales.orders`). */
export const sqlIdentifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/, 'must be a plain SQL identifier');

/** A table or column name, optionally schema-qualified, quoted for SQL; throws on anything else. */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/.test(name)) {
    throw new Error(`not a plain SQL identifier: ${name}`);
  }
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/** What to do with a row whose key already exists. */
export interface OnConflict {
  columns: string[];
  action: 'ignore' | 'update';
}

/**
 * Inserts rows (all with the same columns) with one parameterised
 * statement; returns how many were written.
 */
export async function insertRows(db: Queryable, table: string, rows: Record<string, unknown>[], onConflict?: OnConflict): Promise<number> {
  if (!rows.length) return 0;

  const columns = Object.keys(rows[0]);
  const params: unknown[] = [];
  const tuples = rows.map((row) => `(${columns.map((c) => `$${params.push(row[c] ?? null)}`).join(', ')})`);
  let sql = `INSERT INTO ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) VALUES ${tuples.join(', ')}`;

  if (onConflict) {
    const target = `(${onConflict.columns.map(quoteIdent).join(', ')})`;
    const updates = columns.filter((c) => !onConflict.columns.includes(c)).map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
    sql += onConflict.action === 'update' && updates.length ? ` ON CONFLICT ${target} DO UPDATE SET ${updates.join(', ')}` : ` ON CONFLICT ${target} DO NOTHING`;
  }
  const result = await db.query(sql, params);
  return result.rowCount;
}

/**
 * Runs a `CREATE TABLE IF NOT EXISTS`. Two jobs creating the same table at
 * once can still collide inside PostgreSQL; the loser's error only means the
 * table now exists.
 */
export async function createTableIfMissing(db: Queryable, sql: string): Promise<void> {
  try {
    await db.query(sql);
  } catch (err) {
    const code = (err as { code?: string; cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
    if (code !== '42P07' && code !== '23505') throw err;
  }
}
