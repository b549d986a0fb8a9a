import { parseArgs } from 'node:util';
import { ConfigError } from '../config/index.ts';
import { runEnqueue, runJob, runQueues } from './commands/jobs.ts';
import { runDemo } from './commands/demo.ts';
import { runKeys } from './commands/keys.ts';
import { runNewPlugin } from './commands/new-plugin.ts';
import { runReload } from './commands/plugins.ts';
import { runDlq } from './commands/dlq.ts';
import { runServer, runWorker } from './commands/serve.ts';

const USAGE = `usage: taskmaster <command> [options]

  start                      API and workers in one process
  api                        the HTTP API only
  worker [--queues a,b]      workers only (all configured queues by default)
         [--processes N]     run N worker processes under a supervisor
  enqueue TYPE --data JSON   submit a job [--priority P] [--queue Q] [--delay-ms N]
                             [--retries N] [--idempotency-key K] [--tenant T]
  job ID                     show a job, its attempts and result
         [--priority P]      change a waiting or delayed job's priority class
  queues                     waiting jobs per class and tenant, counts, weights
  keys create|list|revoke|hash  manage API keys (taskmaster keys help)
  dlq list|show|replay|purge the dead-letter queue (taskmaster dlq help)
  demo [--file F] [--rate N] replay a workload through a running API
       [--url U] [--key K]   (defaults: examples/workload.ndjson, 200/s)
  reload [--json]            reload plugins in every process; prints each outcome
  new-plugin NAME [--dir D]  write a plugin skeleton (schema, handler, test)

Configuration comes from taskmaster.config.json (or TASKMASTER_CONFIG) and
the environment (REDIS_URL, PORT, HOST, LOG_LEVEL, TASKMASTER_DATA_DIR).`;

const COMMANDS: Record<string, (args: string[]) => Promise<number | void>> = {
  start: () => runServer('all'),
  api: () => runServer('api'),
  worker: runWorker,
  enqueue: runEnqueue,
  job: runJob,
  queues: runQueues,
  dlq: runDlq,
  demo: runDemo,
  keys: runKeys,
  reload: runReload,
  'new-plugin': runNewPlugin,
};

async function main(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv.slice(0, 1), allowPositionals: true, strict: false });
  const command = COMMANDS[positionals[0] ?? ''];
  if (!command) {
    process.stderr.write(`${USAGE}\n`);
    return positionals[0] === undefined || positionals[0] === 'help' ? 0 : 2;
  }
  return (await command(argv.slice(1))) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err) => {
    const known = err instanceof ConfigError || ['RedisServerMissingError', 'PluginLoadError', 'CliError', 'NotFoundError', 'ConflictError', 'ValidationError'].includes(err?.name);
    const issues = Array.isArray(err?.issues) ? err.issues.map((i: { field: string; message: string }) => `\n  ${i.field}: ${i.message}`).join('') : '';
    process.stderr.write(`taskmaster: ${known ? err.message + issues : err?.stack ?? err}\n`);
    process.exit(1);
  },
);
