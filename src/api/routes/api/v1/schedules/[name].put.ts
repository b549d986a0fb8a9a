import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { recordAudit } from '../../../../auth/audit.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { readJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';

/**
 * Creates or replaces a schedule: 201 when created, 200 when replaced or
 * unchanged. A changed spec replaces the old one whole, state included.
 * Audited as `schedule.put`, without the payload (it may hold secrets).
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const body = await readJson(event);
  const { runtime } = await useContext();
  const name = getRouterParam(event, 'name', { decode: true }) ?? '';

  const existed = Boolean(await runtime.schedules.get(name));
  const { schedule, changed } = await runtime.schedules.put(name, body, 'api');

  const { type, cron, everyMs, timezone, enabled } = schedule.spec;
  const details = { created: !existed, changed, version: schedule.version, type, cron, everyMs, timezone, enabled };
  await recordAudit(key, { action: 'schedule.put', target: name, details });
  setResponseStatus(event, existed ? 200 : 201);
  return { ...schedule, changed };
});
