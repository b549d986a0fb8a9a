import type { RedisClient } from '../../redis/index.ts';

/** What a filtered page must match; empty strings match anything. */
export interface RowFilter {
  type?: string;
  tenant?: string;
  priority?: string;
  /** Matched case-insensitively against the job's stored data. */
  text?: string;
}

/*
 * filterJobs (read only)
 * KEYS[1]  the first job's hash, naming the queue's hash tag (`{queue}`) for
 *          Redis Cluster; every job hash read shares that tag
 * ARGV[1]  job key prefix `<prefix>:{queue}:`
 * ARGV[2]  job type, or ''     ARGV[3] tenant, or ''     ARGV[4] priority, or ''
 * ARGV[5]  lower-cased text the data must contain, or ''
 * ARGV[6]  most matches to return
 * ARGV[7]  the tenant as it appears in the stored JSON (`"tenant":"acme"`), or ''
 * ARGV[8]  the priority as it appears in the stored JSON, or ''
 * ARGV[9…] job ids, in list order
 * Returns { ids looked at, matching id, matching id, … }.
 *
 * The filter runs inside Redis so that only matching ids travel back, not
 * thousands of payloads. It writes nothing: a process dying mid-call changes
 * nothing. A missing job (removed meanwhile) is looked at and skipped.
 * Tenant and priority are first looked for as plain text: job data is
 * always stored as compact JSON (JSON.stringify), so a job without that
 * fragment cannot match, and only the few that have it are decoded to check
 * it is the envelope's own field and not one inside the payload.
 */
const FILTER_JOBS = `
local matched = {}
local looked = 0
local want = tonumber(ARGV[6])
for i = 9, #ARGV do
  looked = looked + 1
  local id = ARGV[i]
  local v = redis.call('HMGET', ARGV[1] .. id, 'name', 'data')
  local name, data = v[1], v[2]
  local ok = (name ~= false) or (data ~= false)
  if ok and ARGV[2] ~= '' and name ~= ARGV[2] then ok = false end
  if ok and ARGV[5] ~= '' then
    ok = data ~= false and string.find(string.lower(data), ARGV[5], 1, true) ~= nil
  end
  if ok and ARGV[7] ~= '' then ok = data ~= false and string.find(data, ARGV[7], 1, true) ~= nil end
  if ok and ARGV[8] ~= '' then ok = data ~= false and string.find(data, ARGV[8], 1, true) ~= nil end
  if ok and (ARGV[3] ~= '' or ARGV[4] ~= '') then
    local good, env = pcall(cjson.decode, data or '')
    if not good or type(env) ~= 'table' then
      ok = false
    else
      if ARGV[3] ~= '' and env.tenant ~= ARGV[3] then ok = false end
      if ARGV[4] ~= '' and env.priority ~= ARGV[4] then ok = false end
    end
  end
  if ok then
    matched[#matched + 1] = id
    if #matched >= want then break end
  end
end
table.insert(matched, 1, looked)
return matched
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmFilterJobs(...args: string[]): Promise<(string | number)[]>;
  }
}

/** Which of `ids` (in order) match `filter`, and how many were looked at before `want` matched. */
export async function filterJobs(
  redis: RedisClient,
  jobKeyPrefix: string,
  ids: string[],
  filter: RowFilter,
  want: number,
): Promise<{ looked: number; ids: string[] }> {
  if (!ids.length) return { looked: 0, ids: [] };
  if (typeof (redis as any).tmFilterJobs !== 'function') {
    redis.defineCommand('tmFilterJobs', { numberOfKeys: 1, lua: FILTER_JOBS });
  }

  const reply = await redis.tmFilterJobs(
    jobKeyPrefix + ids[0],
    jobKeyPrefix,
    filter.type ?? '',
    filter.tenant ?? '',
    filter.priority ?? '',
    (filter.text ?? '').toLowerCase(),
    String(want),
    filter.tenant ? `"tenant":${JSON.stringify(filter.tenant)}` : '',
    filter.priority ? `"priority":${JSON.stringify(filter.priority)}` : '',
    ...ids,
  );
  const [looked, ...matched] = reply;
  return { looked: Number(looked), ids: matched.map(String) };
}
