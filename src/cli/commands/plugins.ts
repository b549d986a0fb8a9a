import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.ts';
import { createLogger, requestFleetReload, startRuntime, type ReloadOutcome } from '../../engine/index.ts';

/**
 * `reload`: asks every TaskMaster process sharing this Redis to reload its
 * plugins, waits for each live process to answer, and prints one line per
 * process. Exits 1 when a process rejected a plugin or did not answer.
 */
export async function runReload(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false }, 'timeout-ms': { type: 'string' } } });
  const config = loadConfig();
  const runtime = await startRuntime({ config, workers: false, log: createLogger('warn'), oneShot: true });
  try {
    const timeoutMs = values['timeout-ms'] ? Number(values['timeout-ms']) : undefined;
    const { requestId, outcomes, missing } = await requestFleetReload(runtime.redis, runtime.keys, { timeoutMs });
    const ok = !missing.length && outcomes.every((o) => !o.error && !o.report?.rejected.length);

    if (values.json) {
      process.stdout.write(`${JSON.stringify({ requestId, ok, outcomes, missing }, null, 2)}\n`);
    } else {
      if (!outcomes.length) process.stdout.write('no process answered: are any running against this Redis and prefix?\n');
      for (const outcome of outcomes) process.stdout.write(`${describe(outcome)}\n`);
      for (const id of missing) process.stdout.write(`${id}: no answer\n`);
    }
    return ok ? 0 : 1;
  } finally {
    await runtime.stop();
  }
}

function describe(outcome: ReloadOutcome): string {
  const head = `${outcome.process} (${outcome.role})`;
  if (outcome.error) return `${head}: reload failed: ${outcome.error}`;

  const report = outcome.report!;
  const parts = [
    ...report.loaded.map((p) => `loaded ${p.name}@${p.version} (${p.hash})${p.replaced ? ` replacing ${p.replaced.version}` : ''}`),
    ...report.removed.map((p) => `removed ${p.name}@${p.version}`),
    ...report.rejected.map((r) => `REJECTED ${r.entry}: ${r.problems.join('; ')}`),
  ];
  const serving = outcome.plugins.filter((p) => p.status === 'serving').map((p) => `${p.name}@${p.version}`);
  return `${head}: ${parts.length ? parts.join(', ') : 'no change'}; serving ${serving.join(', ') || 'nothing'}`;
}
