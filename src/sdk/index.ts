/**
 * The plugin SDK: everything a plugin may use. A plugin imports nothing else
 * of TaskMaster's.
 *
 * ```ts
 * import { definePlugin, z, PermanentError } from 'taskmaster/sdk';
 *
 * export default definePlugin({
 *   name: 'greetings',
 *   version: '1.0.0',
 *   jobs: {
 *     'greet.say': {
 *       schema: z.object({ name: z.string() }),
 *       handler: async ({ name }, ctx) => ({ said: `hello ${name}` }),
 *     },
 *   },
 * });
 * ```
 */
import type { JobTypeDefinition, PayloadSchema, PluginDefinition } from './types.ts';

export { z } from 'zod';
export { BreakerOpenError, PermanentError, RetryAfterError, TimeoutError } from '../core/errors.ts';
export type * from './types.ts';
export { secret } from './secret.ts';
export { USER_ID } from '../core/ids.ts';
export { failureForStatus, isRetryableStatus, parseRetryAfter } from './http-status.ts';
export { xlsxDrained } from './xlsx.ts';
export type * from './services.ts';
export {
  columnSpecSchema,
  createTableIfMissing,
  columnsSchema,
  insertRows,
  quoteIdent,
  readRecords,
  RECORD_FORMATS,
  rowValidator,
  sqlIdentifier,
  type ColumnSpecs,
  type OnConflict,
  type RecordFormat,
  type RowValidator,
  type SourceRecord,
} from './records.ts';

/** Declares a plugin. It returns the definition as is; TaskMaster validates it on load. */
export function definePlugin<const P extends PluginDefinition>(plugin: P): P {
  return plugin;
}

/** Declares one job type with its payload type inferred from the schema. */
export function defineJobType<T>(
  definition: JobTypeDefinition<T> & { schema: PayloadSchema<T> },
): JobTypeDefinition<T> {
  return definition;
}
