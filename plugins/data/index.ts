import { definePlugin } from '../../src/sdk/index.ts';
import { cacheWarmSchema, warmCache } from './cache-warm.ts';
import { exportData, exportSchema } from './export.ts';
import { importData, importSchema } from './import.ts';
import { maintenanceSchema, runMaintenance } from './maintenance.ts';
import { syncData, syncSchema } from './sync.ts';

/**
 * Data operations against the PostgreSQL databases of the configuration
 * (`databases.<name>`). Files are read from and written to the folder in
 * `plugins.settings.data.files`.
 */
export default definePlugin({
  name: 'data',
  version: '1.0.0',
  jobs: {
    'data.import': {
      description: 'Stream a CSV or NDJSON file or URL into a table in batches, resumable, reporting bad rows.',
      schema: importSchema,
      handler: importData,
      defaults: { timeoutMs: 60 * 60 * 1000 },
    },
    'data.export': {
      description: "Stream a query's rows to a CSV, NDJSON or .xlsx file in constant memory.",
      schema: exportSchema,
      handler: exportData,
      defaults: { timeoutMs: 60 * 60 * 1000 },
    },
    'data.sync': {
      description: 'Copy rows changed since the last run between tables by an updated-at or id cursor.',
      schema: syncSchema,
      handler: syncData,
      defaults: { timeoutMs: 60 * 60 * 1000 },
    },
    'db.maintenance': {
      description: 'ANALYZE / VACUUM named tables and delete rows past a retention age in batches.',
      schema: maintenanceSchema,
      handler: runMaintenance,
      defaults: { timeoutMs: 60 * 60 * 1000, retries: 1 },
    },
    'cache.warm': {
      description: 'Compute values from queries and write them to cache keys with TTLs.',
      schema: cacheWarmSchema,
      handler: warmCache,
    },
  },
});
