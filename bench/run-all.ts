/**
 * `npm run bench`: runs every benchmark, one after the other (each starts its
 * own redis-server), and writes bench/RESULTS.md with the figures side by
 * side and the machine they came from. `--quick` shortens the steady run and
 * the HTTP runs for a first look; the committed RESULTS.md is a full run.
 *
 *   npm run bench -- [--quick] [--steady-s 300] [--note "2 cores, shared"]
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'steady-s': { type: 'string' },
    note: { type: 'string', default: '' },
  },
});
const quick = values.quick;
const steadyS = values['steady-s'] ?? (quick ? '30' : '300');
const ROOT = resolve(import.meta.dirname, '..');

type Result = Record<string, any>;

/** Runs one benchmark script; its progress goes to the terminal, its last stdout line is the result. */
function bench(script: string, args: string[]): Promise<Result> {
  process.stderr.write(`\n== ${script} ${args.join(' ')}\n`);
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', `bench/${script}`, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolvePromise, reject) => {
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolvePromise(JSON.parse(last));
      else reject(new Error(`${script} failed (exit ${code}):\n${out}`));
    });
  });
}

/** Non-2xx answers with their status codes: `588 (429: 588)`. */
function refused(r: Result): string {
  const codes = Object.entries(r.statuses ?? {}).map(([code, n]) => `${code}: ${n}`);
  return codes.length ? `${r.non2xx} (${codes.join(', ')})` : String(r.non2xx);
}

function redisVersion(): string {
  return execFileSync('redis-server', ['--version']).toString().trim().replace(/^Redis server /, '');
}

const startedAt = new Date();
const load = loadavg().map((l) => l.toFixed(1)).join(' / ');
const throughput = await bench('throughput.ts', ['--jobs', '20000', '--concurrency', '50']);
const http = await bench('http-submit.ts', ['--duration', quick ? '5' : '10']);
const steady = await bench('steady.ts', ['--duration', steadyS]);
const memory = await bench('memory.ts', ['--jobs', '5000', '--duration', steadyS]);
const scaling = await bench('scaling.ts', ['--jobs', quick ? '4000' : '10000']);
const loadAfter = loadavg().map((l) => l.toFixed(1)).join(' / ');

const md = `# Benchmark results

Written by \`npm run bench\`${quick ? ' --quick (shortened runs: not the figures to quote)' : ''} on ${startedAt.toISOString()}.
Each benchmark starts its own \`redis-server\` (no persistence) and runs TaskMaster and its
baseline one after the other in the same run. Figures are what this machine gave; nothing
is tuned to a target.

**Machine:** ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Redis ${redisVersion()}.
Load average before / after (1, 5, 15 min): ${load} → ${loadAfter}.${values.note ? `\n${values.note}` : ''}

## Throughput — ${throughput.jobs} no-op jobs, concurrency ${throughput.concurrency}

| engine | jobs/s | TaskMaster ÷ engine |
|---|---:|---:|
| TaskMaster | ${throughput.taskmasterPerSec} | 1 |
| bare BullMQ | ${throughput.bullmqPerSec} | ${throughput.ratio} |
| bee-queue | ${throughput.beeQueuePerSec} | ${throughput.ratioToBeeQueue} |

## HTTP submission — autocannon, ${http.connections} connections, ${http.durationS} s each

req/s counts 2xx answers only. The bench's API key has its own submission limit
(${http.rateLimit.perSecond} jobs/s, burst ${http.rateLimit.burst}) instead of the default 1,000 jobs/s per key, which
bulk requests of ${http.bulk} jobs would exceed: the figures measure submission, not the limiter.

| endpoint | req/s | p99 ms | non-2xx (by status) | connection errors |
|---|---:|---:|---:|---:|
| TaskMaster \`POST /api/v1/jobs\` | ${http.single.taskmaster.rps} | ${http.single.taskmaster.p99Ms} | ${refused(http.single.taskmaster)} | ${http.single.taskmaster.errors} |
| bare \`node:http\` + \`queue.add\` | ${http.single.bare.rps} | ${http.single.bare.p99Ms} | ${refused(http.single.bare)} | ${http.single.bare.errors} |
| TaskMaster \`POST /api/v1/jobs/bulk\` (${http.bulk} jobs) | ${http.bulkRequests.taskmaster.rps} | ${http.bulkRequests.taskmaster.p99Ms} | ${refused(http.bulkRequests.taskmaster)} | ${http.bulkRequests.taskmaster.errors} |
| bare \`node:http\` + \`queue.addBulk\` (${http.bulk} jobs) | ${http.bulkRequests.bare.rps} | ${http.bulkRequests.bare.p99Ms} | ${refused(http.bulkRequests.bare)} | ${http.bulkRequests.bare.errors} |

TaskMaster ÷ bare: single ${http.single.ratio}, bulk ${http.bulkRequests.ratio}.

## Time in queue at half capacity (${steady.durationS} s)

Capacity of one process (producer and workers in it): ${steady.capacityPerSec} jobs/s; steady rate ${steady.ratePerSec} jobs/s, ${steady.submitted} jobs submitted.

| time in queue p50 | p99 |
|---:|---:|
| ${steady.timeInQueueMs.p50} ms | ${steady.timeInQueueMs.p99} ms |

## Node memory over a steady run (${memory.steady.durationS} s at ${memory.steady.ratePerSec} jobs/s)

One process, producer and workers; ${memory.steady.completed} of ${memory.steady.submitted} jobs completed. Samples every 10 s${memory.steady.heapAfterGc ? ', heap after a full GC' : ''}.
**${memory.steady.flat ? 'Flat' : 'Not flat'}** (${memory.steady.flatRule}): RSS trend ${memory.steady.rss.growthMb} MiB (${memory.steady.rss.growthPct} %), heap trend ${memory.steady.heap.growthMb} MiB (${memory.steady.heap.growthPct} %) after ${memory.steady.rss.fromS} s.

| at | RSS | heap | jobs done |
|---:|---:|---:|---:|
${memory.steady.samples.map((s: Result) => `| ${s.atS} s | ${s.rssMb} MiB | ${s.heapMb} MiB | ${s.completed} |`).join('\n')}

## Redis memory per retained completed job (${memory.jobs} jobs)

| engine | bytes per job |
|---|---:|
| TaskMaster (attempt record, envelope, history) | ${memory.taskmasterBytesPerJob} |
| bare BullMQ | ${memory.bullmqBytesPerJob} |

## Scaling with worker processes — ${scaling.jobs} no-op jobs, concurrency 50 each

| processes | jobs/s | vs 1 |
|---:|---:|---:|
${Object.keys(scaling.perSec)
  .map((k) => `| ${k} | ${scaling.perSec[k]} | ${scaling.speedup[k]} |`)
  .join('\n')}

On a machine with ${cpus().length} cores shared with Redis and the load generator, processes beyond
the core count add little: the figure shows where this machine, not TaskMaster, tops out.
`;

writeFileSync(resolve(import.meta.dirname, 'RESULTS.md'), md);
process.stderr.write(`\nwrote bench/RESULTS.md\n`);
