import type { RedisClient } from '../../redis/index.ts';
import { HOLD_OFFSET_MS, LISTED_SCORE, REAL_DELAY_LIMIT_MS } from './hold.ts';

/*
 * tmFairDispatch: lists ready held jobs, then hands jobs to BullMQ in fair order.
 *
 * KEYS[1]  BullMQ delayed zset      KEYS[2]  BullMQ wait list
 * KEYS[3]  BullMQ marker zset       KEYS[4]  BullMQ meta hash
 * KEYS[5]  fair state hash (pass:<class>, vt, seq, used:<class>:<tenant>)
 * KEYS[6]  tenant settings hash (tenant -> "weight|maxRunning")
 * KEYS[7]  BullMQ prioritized zset
 * ARGV[1]  job key prefix (`<prefix>:{q}:`)   ARGV[2]  fair key prefix (`<prefix>:{q}:tm:fair:`)
 * ARGV[3]  now (ms)    ARGV[4]  wait-list length to fill up to    ARGV[5]  most jobs to list
 * ARGV[6..9]  weights of critical, high, normal, low
 * Returns { dispatched, listed, waiting-after, next ready time of a held job (ms) or -1 }.
 *
 * 1. Listing: held jobs whose ready time passed, oldest first, are appended
 *    to the list of their class and tenant (`q:<class>:<tenant>`), their
 *    tenant to the class's ring of tenants (`ring:<class>`) when it was not
 *    there, and their score moves to the listed band. Each listing gets a
 *    new sequence number, kept on the job (`tmfseq`) and in the list entry;
 *    an entry whose number no longer matches (cancelled, priority changed,
 *    relisted) is stale and skipped.
 * 2. Dispatch: jobs BullMQ put back by itself (stalled, interrupted, parked,
 *    deferred: they sit in its prioritized set, which workers read only when
 *    the wait list is empty) go first, so a busy fair queue cannot starve
 *    them. Then, while the wait list is short of the target, the class with
 *    the lowest pass (stride scheduling, stride = 1/weight) gives one job
 *    from the tenant at the head of its ring; the tenant goes back to the
 *    ring's tail (or stays at the head while its weight allows more turns).
 *    A tenant at its `maxRunning` is passed over. The job leaves the
 *    delayed set and is pushed to wait, where BullMQ workers take it.
 * 3. BullMQ's marker is set as its own scripts do, so blocked workers wake.
 *
 * One script, so atomic: a process killed before or after it leaves every
 * job either held/listed in the delayed set or in wait, never both, never
 * neither. Lists and rings are derived state; a stale entry is skipped.
 */
const DISPATCH = `
local rcall = redis.call
local delayedKey, waitKey, markerKey, metaKey, stateKey, tenantsKey, prioritizedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local jobPrefix, fairPrefix = ARGV[1], ARGV[2]
local now, target, listLimit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local CLASSES = { 'critical', 'high', 'normal', 'low' }
local HOLD, LISTED, REAL = ${HOLD_OFFSET_MS}, ${LISTED_SCORE}, ${REAL_DELAY_LIMIT_MS}
local heldFrom = '(' .. string.format('%.0f', (now + REAL + 1) * 4096 - 1)

-- 1. Listing.
local ready = rcall('ZRANGEBYSCORE', delayedKey, heldFrom, (HOLD + now + 1) * 4096 - 1, 'LIMIT', 0, listLimit)
local seq = tonumber(rcall('HGET', stateKey, 'seq') or '0')
for _, id in ipairs(ready) do
  local jobKey = jobPrefix .. id
  local data = rcall('HGET', jobKey, 'data')
  if not data then
    rcall('ZREM', delayedKey, id)
  else
    local class, tenant = string.match(data, '^{"priority":"(%a+)","tenant":"(.-)"[,}]')
    if not class then
      class = string.match(data, '^{"priority":"(%a+)"') or 'normal'
      tenant = ''
    end
    seq = seq + 1
    rcall('HSET', jobKey, 'tmfseq', seq)
    rcall('ZADD', delayedKey, LISTED, id)
    if rcall('RPUSH', fairPrefix .. 'q:' .. class .. ':' .. tenant, seq .. ':' .. id) == 1 then
      rcall('RPUSH', fairPrefix .. 'ring:' .. class, tenant)
    end
  end
end
if #ready > 0 then rcall('HSET', stateKey, 'seq', seq) end

-- 2. Dispatch.
local dispatched = 0
local want = target - rcall('LLEN', waitKey)
if want > 0 and not rcall('HGET', metaKey, 'paused') then
  local pass, stride, blocked = {}, {}, {}
  local vt = tonumber(rcall('HGET', stateKey, 'vt') or '0')
  for i, class in ipairs(CLASSES) do
    pass[i] = tonumber(rcall('HGET', stateKey, 'pass:' .. class) or '0')
    stride[i] = 1 / tonumber(ARGV[5 + i])
  end
  local settings = {}
  local function settingsOf(tenant)
    if settings[tenant] == nil then
      local raw = rcall('HGET', tenantsKey, tenant)
      local weight, cap = 1, 0
      if raw then
        local w, c = string.match(raw, '^(%d+)|(%d*)$')
        weight = tonumber(w) or 1
        cap = tonumber(c) or 0
      end
      settings[tenant] = { weight = weight, cap = cap }
    end
    return settings[tenant]
  end
  -- Jobs of a capped tenant still waiting or running; finished or retrying ones are dropped.
  local function runningOf(tenant)
    local key = fairPrefix .. 'running:' .. tenant
    local count = 0
    for _, id in ipairs(rcall('SMEMBERS', key)) do
      local jobKey = jobPrefix .. id
      if rcall('EXISTS', jobKey) == 0 or rcall('HEXISTS', jobKey, 'finishedOn') == 1 or rcall('ZSCORE', delayedKey, id) then
        rcall('SREM', key, id)
      else
        count = count + 1
      end
    end
    return count
  end
  -- One job of a class: the next tenant in turn that has a live entry and room.
  local function takeFrom(class)
    local ringKey = fairPrefix .. 'ring:' .. class
    local tenants = rcall('LLEN', ringKey)
    for _ = 1, tenants do
      local tenant = rcall('LPOP', ringKey)
      if not tenant then return nil end
      local s = settingsOf(tenant)
      local listKey = fairPrefix .. 'q:' .. class .. ':' .. tenant
      if s.cap > 0 and runningOf(tenant) >= s.cap then
        rcall('RPUSH', ringKey, tenant)
      else
        local id
        while true do
          local entry = rcall('LPOP', listKey)
          if not entry then break end
          local n, candidate = string.match(entry, '^(%d+):(.*)$')
          local jobKey = jobPrefix .. candidate
          if rcall('HGET', jobKey, 'tmfseq') == n and rcall('ZSCORE', delayedKey, candidate) then
            id = candidate
            break
          end
        end
        if id then
          if rcall('LLEN', listKey) > 0 then
            local usedField = 'used:' .. class .. ':' .. tenant
            local used = s.weight > 1 and rcall('HINCRBY', stateKey, usedField, 1) or 1
            if used < s.weight then
              rcall('LPUSH', ringKey, tenant)
            else
              if s.weight > 1 then rcall('HDEL', stateKey, usedField) end
              rcall('RPUSH', ringKey, tenant)
            end
          elseif s.weight > 1 then
            rcall('HDEL', stateKey, 'used:' .. class .. ':' .. tenant)
          end
          if s.cap > 0 then rcall('SADD', fairPrefix .. 'running:' .. tenant, id) end
          return id
        end
        -- The tenant's list ran dry: it leaves the ring.
      end
    end
    return nil
  end

  local stray = rcall('ZPOPMIN', prioritizedKey, want)
  for i = 1, #stray, 2 do
    rcall('LPUSH', waitKey, stray[i])
    dispatched = dispatched + 1
  end

  while dispatched < want do
    local best, bestPass
    for i = 1, 4 do
      if not blocked[i] and rcall('LLEN', fairPrefix .. 'ring:' .. CLASSES[i]) > 0 then
        local p = math.max(pass[i], vt)
        if not best or p < bestPass then best, bestPass = i, p end
      end
    end
    if not best then break end
    local id = takeFrom(CLASSES[best])
    if id then
      rcall('ZREM', delayedKey, id)
      rcall('LPUSH', waitKey, id)
      pass[best] = bestPass + stride[best]
      vt = bestPass
      dispatched = dispatched + 1
    else
      blocked[best] = true
    end
  end
  if dispatched > 0 then
    for i, class in ipairs(CLASSES) do rcall('HSET', stateKey, 'pass:' .. class, pass[i]) end
    rcall('HSET', stateKey, 'vt', vt)
    -- 3. Wake blocked workers, as BullMQ's addBaseMarkerIfNeeded does.
    rcall('ZADD', markerKey, 0, '0')
  end
end

local nextReady = -1
local upcoming = rcall('ZRANGEBYSCORE', delayedKey, (HOLD + now + 1) * 4096, '(' .. string.format('%.0f', LISTED), 'WITHSCORES', 'LIMIT', 0, 1)
if upcoming[2] then nextReady = math.floor(tonumber(upcoming[2]) / 4096) - HOLD end
return { dispatched, #ready, rcall('LLEN', waitKey), nextReady }
`;

/*
 * tmFairRelist: sends a held or listed job back to be listed again, ready now.
 * KEYS[1]  BullMQ delayed zset   KEYS[2]  the job's hash
 * ARGV[1]  job id   ARGV[2]  now (ms)
 * Returns 1 when the job was held or listed, 0 otherwise (nothing changed).
 * Its old list entry turns stale (its sequence number is dropped), so the
 * next dispatch lists it under its current class, at the back.
 */
const RELIST = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) / 4096 <= tonumber(ARGV[2]) + ${REAL_DELAY_LIMIT_MS} then return 0 end
redis.call('HDEL', KEYS[2], 'tmfseq')
if tonumber(score) >= ${LISTED_SCORE} then
  redis.call('ZADD', KEYS[1], (${HOLD_OFFSET_MS} + tonumber(ARGV[2])) * 4096, ARGV[1])
end
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmFairDispatch(...args: (string | number)[]): Promise<[number, number, number, number]>;
    tmFairRelist(delayedKey: string, jobKey: string, jobId: string, now: number): Promise<number>;
  }
}

/** Defines the fair scheduling scripts on a connection (once). */
export function defineFairCommands(redis: RedisClient): void {
  if (typeof (redis as any).tmFairDispatch === 'function') return;
  redis.defineCommand('tmFairDispatch', { numberOfKeys: 7, lua: DISPATCH });
  redis.defineCommand('tmFairRelist', { numberOfKeys: 2, lua: RELIST });
}
