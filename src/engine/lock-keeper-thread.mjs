// The lock keeper's thread: renews the BullMQ locks of the jobs its worker
// process is running, on an event loop no handler can block, over a Redis
// connection of its own. The process's main thread tells it which jobs it
// holds and sends a beat every so often; see lock-keeper.ts for the rules.
// Plain JavaScript so that it starts the same way from the sources, the
// tests and the built server; the connection code loads through jiti.
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createJiti } from 'jiti';

const { redisUrl, connectionEntry, lockDurationMs, renewEveryMs, cancelField } = workerData;

/*
 * renewLocks
 * KEYS[1]     the queue's stalled set
 * KEYS[2n]    job n's lock          KEYS[2n+1]  job n's hash
 * ARGV[1]     lock duration, ms     ARGV[2]     hash field set by a cancel request
 * ARGV[2n+1]  job n's lock token    ARGV[2n+2]  job n's id
 * Returns one code per job: 1 renewed, 2 renewed and a cancel was requested,
 * 0 the lock is gone or another worker's (nothing changed). A job whose lock
 * is renewed leaves the stalled set, so no worker's stalled check takes it.
 * Only keys of one queue (one hash slot); each job is renewed or not on its own.
 */
const RENEW_LOCKS = `
local codes = {}
local n = (#KEYS - 1) / 2
for i = 1, n do
  local lock = KEYS[2 * i]
  local token = ARGV[2 * i + 1]
  if redis.call('GET', lock) == token then
    redis.call('SET', lock, token, 'PX', ARGV[1])
    redis.call('SREM', KEYS[1], ARGV[2 * i + 2])
    if redis.call('HEXISTS', KEYS[2 * i + 1], ARGV[2]) == 1 then codes[i] = 2 else codes[i] = 1 end
  else
    codes[i] = 0
  end
end
return codes
`;

/*
 * renewOwnActive
 * KEYS[1]  the queue's active list    KEYS[2]  the queue's stalled set
 * ARGV[1]  the queue's key base (`<prefix>:{<queue>}:`)
 * ARGV[2]  lock token prefix of one BullMQ worker (`<worker id>:`)
 * ARGV[3]  lock duration, ms
 * Renews every active job whose lock that worker holds, and returns how many.
 * For jobs the worker took but has not told the keeper about yet (its event
 * loop was blocked between taking a job and starting it). Lock keys are
 * built from the key base: they share the queue's hash tag, so its slot.
 * Reads the whole active list: run only while the event loop is silent.
 */
const RENEW_OWN_ACTIVE = `
local renewed = 0
local prefix = ARGV[2]
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local lock = ARGV[1] .. id .. ':lock'
  local token = redis.call('GET', lock)
  if token and string.sub(token, 1, #prefix) == prefix then
    redis.call('SET', lock, token, 'PX', ARGV[3])
    redis.call('SREM', KEYS[2], id)
    renewed = renewed + 1
  end
end
return renewed
`;

const jiti = createJiti(import.meta.url);
const { createRedis } = await jiti.import(connectionEntry);
// Fails fast while Redis is away: a round that fails is simply tried again next time.
const redis = createRedis(redisUrl, 'command', 'taskmaster:lock-keeper');
redis.on('error', () => {
  // Reconnects by itself; the worker's own logs and readiness report the outage.
});
redis.defineCommand('tmRenewLocks', { lua: RENEW_LOCKS });
redis.defineCommand('tmRenewOwnActive', { numberOfKeys: 2, lua: RENEW_OWN_ACTIVE });

/** Held jobs by lock key: { owner, lockKey, jobKey, stalledKey, token, jobId, deadline, cancelSent }. */
const held = new Map();
/** BullMQ workers of this process by owner: { owner, activeKey, stalledKey, keyBase, tokenPrefix }. */
const watched = new Map();
let lastBeat = Date.now();

parentPort.on('message', (message) => {
  lastBeat = Date.now();
  if (message.kind === 'batch') message.messages.forEach(apply);
  else apply(message);
});

function apply(message) {
  if (message.kind === 'hold') held.set(message.lock.lockKey, { ...message.lock, cancelSent: false });
  else if (message.kind === 'release') held.delete(message.lockKey);
  else if (message.kind === 'watch') watched.set(message.queue.owner, message.queue);
  else if (message.kind === 'release-owner') {
    watched.delete(message.owner);
    for (const lock of held.values()) if (lock.owner === message.owner) held.delete(lock.lockKey);
  }
}

async function renew() {
  const now = Date.now();
  const mainSilentMs = now - lastBeat;
  const byQueue = new Map();
  for (const lock of held.values()) {
    if (now > lock.deadline) {
      // Past its timeout plus a lock time: the keeper lets go; the worker's own renewal goes on while its loop is free.
      held.delete(lock.lockKey);
      if (mainSilentMs > lockDurationMs) stuck(lock, mainSilentMs);
      continue;
    }
    const group = byQueue.get(lock.stalledKey) ?? [];
    group.push(lock);
    byQueue.set(lock.stalledKey, group);
  }

  // The loop missed two beats: it may hold jobs it took but has not named yet.
  if (mainSilentMs > 2 * renewEveryMs) {
    await Promise.all(
      [...watched.values()].map((q) =>
        redis.tmRenewOwnActive(q.activeKey, q.stalledKey, q.keyBase, q.tokenPrefix, lockDurationMs).catch(() => undefined),
      ),
    );
  }

  await Promise.all(
    [...byQueue].map(async ([stalledKey, locks]) => {
      const keys = [stalledKey, ...locks.flatMap((l) => [l.lockKey, l.jobKey])];
      const args = [lockDurationMs, cancelField, ...locks.flatMap((l) => [l.token, l.jobId])];
      const codes = await redis.tmRenewLocks(keys.length, ...keys, ...args).catch(() => undefined);
      if (!codes) return;
      codes.forEach((code, i) => {
        const lock = locks[i];
        if (code === 0) held.delete(lock.lockKey);
        else if (code === 2 && !lock.cancelSent) {
          lock.cancelSent = true;
          parentPort.postMessage({ kind: 'cancel', jobId: lock.jobId, owner: lock.owner });
        }
      });
    }),
  );
}

/**
 * The main thread has not answered for longer than a lock time and a job
 * it holds is past its timeout: a handler holds the event loop and will not
 * give it back. The process can settle nothing any more; it ends at once so
 * its supervisor starts a fresh one, and its jobs, no longer renewed, are
 * taken for stalled and run again by other workers.
 */
function stuck(lock, mainSilentMs) {
  const line = {
    level: 50,
    time: Date.now(),
    pid: process.pid,
    jobId: lock.jobId,
    mainSilentMs,
    msg: 'event loop blocked past the job timeout; ending the worker process',
  };
  writeSync(2, JSON.stringify(line) + '\n');
  process.kill(process.pid, 'SIGKILL');
}

// One round at a time: a slow round delays the next instead of piling up behind it.
function schedule() {
  setTimeout(async () => {
    await renew();
    schedule();
  }, renewEveryMs);
}

schedule();
parentPort.postMessage({ kind: 'ready' });
