import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TaskMasterClient, TaskMasterError, type Job, type SubmitRequest } from '../../client/index.ts';
import { loadConfig, packageRoot } from '../../config/index.ts';
import { startDemoReceiver } from '../demo/receiver.ts';
import { summarise } from '../demo/summary.ts';
import { CliError } from './cli-error.ts';

const POLL_CONCURRENCY = 16;

/**
 * `demo`: replays a workload file (one JSON job per line) through the HTTP
 * API of a running TaskMaster at `--rate` jobs per second, waits until every
 * job has finished (or `--timeout-s` passes) and prints a summary. Webhook
 * jobs go to a local receiver the demo starts: `{{receiver}}` in a line is
 * replaced by its URL. The API key and the webhook secret come from the same
 * configuration the server uses (see examples/demo.config.json).
 */
export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      file: { type: 'string', default: join(packageRoot(), 'examples', 'workload.ndjson') },
      rate: { type: 'string', default: '200' },
      url: { type: 'string' },
      key: { type: 'string' },
      'timeout-s': { type: 'string', default: '120' },
    },
  });
  const config = loadConfig();
  const rate = Number(values.rate);
  if (!(rate > 0)) throw new CliError(`--rate must be a positive number, got ${values.rate}`);

  const apiKey = values.key ?? process.env.TASKMASTER_API_KEY ?? config.api.keys.find((k) => k.key)?.key;
  if (!apiKey) throw new CliError('no API key: pass --key, set TASKMASTER_API_KEY, or configure api.keys with a key');
  const secret = (config.plugins.settings.webhooks as { secrets?: Record<string, string> } | undefined)?.secrets?.default;
  if (!secret) throw new CliError('the demo needs plugins.settings.webhooks.secrets.default in the configuration (see examples/demo.config.json)');

  const client = new TaskMasterClient({ baseUrl: values.url ?? `http://${config.api.host}:${config.api.port}`, apiKey });
  const receiver = await startDemoReceiver(secret);
  try {
    // 1. Submit at the chosen rate.
    const lines = readFileSync(values.file!, 'utf8').split('\n').filter((l) => l.trim());
    const jobs = lines.map((line) => JSON.parse(line.replaceAll('{{receiver}}', receiver.url)) as SubmitRequest);
    const startedAt = Date.now();
    const { ids, rejected } = await submitPaced(client, jobs, rate);
    const submittedAt = Date.now();
    process.stderr.write(`submitted ${ids.length} jobs (${rejected} refused) in ${(submittedAt - startedAt) / 1000} s\n`);

    // 2. Wait until every job has finished.
    const deadline = Date.now() + Number(values['timeout-s']) * 1000;
    const finished = await waitForAll(client, ids, deadline);
    const summary = summarise(finished, rejected, startedAt, submittedAt, Date.now());

    process.stdout.write(`${JSON.stringify({ ...summary, receiver: receiver.stats }, null, 2)}\n`);
    return summary.inFlight === 0 && rejected === 0 ? 0 : 1;
  } finally {
    await receiver.close();
  }
}

async function submitPaced(client: TaskMasterClient, jobs: SubmitRequest[], rate: number) {
  // The first job goes alone: a wrong key or URL stops the demo before it floods.
  const first = await client.submit(jobs[0]).catch((err) => {
    if (err instanceof TaskMasterError) throw new CliError(`the API refused the first job: ${err.status} ${err.message}`);
    throw new CliError(`cannot reach the API: ${(err as Error).message}`);
  });
  const ids: string[] = [first.id];
  let rejected = 0;
  const pending = new Set<Promise<void>>();
  const start = Date.now();

  for (let i = 1; i < jobs.length; i++) {
    const due = start + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());

    const one = client.submit(jobs[i]).then(
      (s) => void ids.push(s.id),
      (err) => {
        rejected++;
        if (!(err instanceof TaskMasterError)) throw err;
        if (rejected <= 5) process.stderr.write(`job ${i + 1} refused: ${err.status} ${err.message}\n`);
      },
    );
    pending.add(one);
    void one.finally(() => pending.delete(one));
  }
  await Promise.all(pending);
  return { ids, rejected };
}

async function waitForAll(client: TaskMasterClient, ids: string[], deadline: number): Promise<Job[]> {
  const latest = new Map<string, Job>();
  let open = [...ids];
  while (open.length && Date.now() < deadline) {
    const still: string[] = [];
    for (let i = 0; i < open.length; i += POLL_CONCURRENCY) {
      const batch = await Promise.all(open.slice(i, i + POLL_CONCURRENCY).map((id) => client.getJob(id)));
      for (const job of batch) {
        latest.set(job.id, job);
        if (!['completed', 'failed', 'dlq', 'cancelled'].includes(job.state)) still.push(job.id);
      }
    }
    open = still;
    if (open.length) await sleep(500);
  }
  return ids.map((id) => latest.get(id)!).filter(Boolean);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
