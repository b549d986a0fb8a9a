import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './server.ts';

/** One route of the API, as its file under src/api/routes declares it. */
export interface Route {
  method: string;
  /** Path with `[param]` placeholders. */
  path: string;
}

/** Every route of the API, read from the file names, so new routes are fuzzed too. */
export function apiRoutes(): Route[] {
  const dir = join(ROOT, 'src', 'api', 'routes');
  return listFiles(dir).flatMap((file) => {
    const match = /^(.*?)(?:\.(get|post|put|patch|delete))?\.ts$/.exec(relative(dir, file));
    if (!match) return [];
    const path = '/' + match[1].replace(/(^|\/)index$/, '');
    return [{ method: (match[2] ?? 'get').toUpperCase(), path: path === '/' ? '/' : path.replace(/\/$/, '') }];
  });
}

/** A small seeded generator (mulberry32): the same seed, the same requests. */
export function seeded(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  return { next, int, pick };
}

type Random = ReturnType<typeof seeded>;

/** A request to send: method, path (with query) and body bytes with their content type. */
export interface FuzzRequest {
  method: string;
  path: string;
  body?: string | Uint8Array;
  contentType?: string;
}

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
const HOSTILE_STRINGS = [
  '\ud800',
  '\udfff',
  'a\ud83d',
  '\u0000',
  '',
  ' ',
  '%',
  '%E0%A4%A',
  '../../etc/passwd',
  '{{7*7}}',
  "'; DROP TABLE jobs; --",
  '\u202e',
  'x'.repeat(5000),
];
const HOSTILE_NUMBERS = [0, -1, -0, 1e308, -1e308, 2 ** 53 + 1, 2 ** 64, 1e-320, 0.5, 9007199254740993, Number.MAX_SAFE_INTEGER];
const NUMBER_TEXTS = ['1e400', '-1e400', '123456789012345678901234567890', '0.0000000000000000000000001', '-0', '1E+2'];

/**
 * Builds one hostile request: a route picked at random with odd path
 * parameters and query strings, and a body that is random JSON, almost-valid
 * submissions with wrong types, huge numbers, deep nesting, lone surrogates,
 * prototype-pollution keys, malformed JSON or bytes that are not UTF-8.
 */
export function hostileRequest(random: Random, routes: Route[], jobTypes: string[]): FuzzRequest {
  const route = random.pick(routes);
  const path = route.path.replace(/\[(\w+)\]/g, () => pathSegment(random));
  const query = random.next() < 0.3 ? '?' + randomQuery(random) : '';
  const request: FuzzRequest = { method: route.method, path: path + query };
  if (route.method === 'GET' || route.method === 'DELETE') return request;

  const shape = random.int(10);
  request.contentType = random.next() < 0.95 ? 'application/json' : random.pick(['text/plain', 'application/x-www-form-urlencoded', '']);
  if (shape === 0) request.body = malformedJson(random);
  else if (shape === 1) request.body = new Uint8Array(Array.from({ length: 1 + random.int(64) }, () => random.int(256)));
  else if (shape === 2) request.body = deepText(random);
  else if (shape === 3) request.body = `{"type":"${random.pick(jobTypes)}","payload":{"n":${random.pick(NUMBER_TEXTS)}}}`;
  else if (shape === 4) request.body = JSON.stringify(randomValue(random, 0));
  else if (shape === 5) request.body = JSON.stringify({ jobs: Array.from({ length: random.int(5) }, () => almostValid(random, jobTypes)) });
  else request.body = JSON.stringify(almostValid(random, jobTypes));
  return request;
}

function almostValid(random: Random, jobTypes: string[]): unknown {
  const job: Record<string, unknown> = { type: random.next() < 0.8 ? random.pick(jobTypes) : randomValue(random, 2), payload: randomValue(random, 0) };
  const options = ['priority', 'queue', 'delayMs', 'retries', 'timeoutMs', 'idempotencyKey', 'tenant', 'name', 'scopes', 'every', 'cron', 'jobs'];
  for (const option of options) if (random.next() < 0.25) job[option] = randomValue(random, 2);
  if (random.next() < 0.3) return withHostileKey(random, job);
  return job;
}

function withHostileKey(random: Random, value: Record<string, unknown>): unknown {
  // Written as text: an object literal would set the prototype instead of a key.
  const key = random.pick(HOSTILE_KEYS);
  const inner = JSON.stringify(randomValue(random, 2));
  const text = JSON.stringify(value);
  return JSON.parse(`{"${key}":${inner},${text.slice(1)}`);
}

function randomValue(random: Random, depth: number): unknown {
  const kind = depth > 4 ? random.int(5) : random.int(8);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random.next() < 0.5;
    case 2:
      return random.pick(HOSTILE_NUMBERS) * (random.next() < 0.5 ? 1 : -1);
    case 3:
      return randomString(random);
    case 4:
      return random.int(1000);
    case 5:
      return Array.from({ length: random.int(4) }, () => randomValue(random, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = random.int(4); i > 0; i--) {
        const key = random.next() < 0.3 ? random.pick(HOSTILE_KEYS) : randomString(random).slice(0, 20);
        Object.defineProperty(out, key, { value: randomValue(random, depth + 1), enumerable: true, configurable: true, writable: true });
      }
      return out;
    }
  }
}

function randomString(random: Random): string {
  if (random.next() < 0.5) return random.pick(HOSTILE_STRINGS);
  return Array.from({ length: random.int(12) }, () => String.fromCharCode(random.int(0x10000))).join('');
}

function pathSegment(random: Random): string {
  const raw = ['%E0%A4%A', '%ff', '%00', '%2e%2e', '..', '%2F', 'default.x', 'default.' + 'a'.repeat(300), '%F0%9F%98', '%ED%A0%80', '__proto__'];
  if (random.next() < 0.6) return random.pick(raw);
  // Lone surrogates cannot be percent-encoded; the raw list above sends their UTF-8 forms.
  return encodeURIComponent((randomString(random) as unknown as { toWellFormed(): string }).toWellFormed()).slice(0, 200) || 'x';
}

function randomQuery(random: Random): string {
  const names = ['limit', 'before', 'since', 'until', 'actor', 'action', 'jobId', 'state', 'queue', '__proto__', 'constructor'];
  const values = ['-1', '0', '1e400', 'NaN', '%E0%A4%A', '%00', 'x'.repeat(300), '1700000000000-0', '[]', '{}', '%ff%fe'];
  return Array.from({ length: 1 + random.int(3) }, () => `${random.pick(names)}=${random.pick(values)}`).join('&');
}

function malformedJson(random: Random): string {
  return random.pick(['{', '}', '{"type":', '[1,2', '{"a":1,}', "{'a':1}", 'undefined', 'NaN', '{"a":"\\ud800"', '\u0000', '']);
}

function deepText(random: Random): string {
  const depth = random.pick([65, 200, 5000, 100_000]);
  return `{"type":"test.noop","payload":{"n":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/** Sends `count` hostile requests, `concurrency` at a time, and counts the answers by status. */
export async function fuzz(options: {
  url: string;
  key: string;
  seed: number;
  count: number;
  concurrency?: number;
  jobTypes: string[];
}): Promise<{ byStatus: Record<number, number>; failures: { request: FuzzRequest; status: number; body: string }[] }> {
  const random = seeded(options.seed);
  const routes = apiRoutes();
  const byStatus: Record<number, number> = {};
  const failures: { request: FuzzRequest; status: number; body: string }[] = [];
  let sent = 0;

  const worker = async () => {
    while (sent < options.count) {
      sent++;
      const request = hostileRequest(random, routes, options.jobTypes);
      const useKey = random.next() < 0.95;
      const headers: Record<string, string> = useKey ? { authorization: `Bearer ${options.key}` } : {};
      if (request.contentType) headers['content-type'] = request.contentType;
      const response = await fetch(options.url + request.path, {
        method: request.method,
        headers,
        body: request.body as BodyInit | undefined,
        signal: AbortSignal.timeout(30_000),
      });
      // An event stream never ends by itself: its status is the answer.
      const streaming = response.headers.get('content-type')?.includes('text/event-stream');
      const body = streaming ? await response.body?.cancel().then(() => '') ?? '' : await response.text();
      byStatus[response.status] = (byStatus[response.status] ?? 0) + 1;
      if (response.status >= 500) failures.push({ request, status: response.status, body });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return { byStatus, failures };
}
