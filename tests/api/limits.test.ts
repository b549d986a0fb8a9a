import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ADMIN_KEY, api, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let server: TestServer;
let port: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startServer({
    role: 'api',
    waitFor: 'healthy',
    redisUrl: inject('redisUrl'),
    config: { plugins: { dirs: [FIXTURES] }, api: { payloadLimitBytes: 4096, bodyTimeoutMs: 3000 } },
  });
  port = Number(new URL(server.url).port);
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await server?.stop();
});

/** A raw connection that sends `head` and then whatever the test writes. */
async function rawSocket(head: string): Promise<{ socket: Socket; response: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((r) => socket.once('connect', r));
  let text = '';
  socket.on('data', (d) => (text += d));
  socket.on('error', () => {
    // The server may reset a connection it refused; the test reads what arrived.
  });
  const response = new Promise<string>((r) => socket.once('close', () => r(text)));
  socket.write(head);
  return { socket, response };
}

function postHead(length: number | 'chunked'): string {
  const framing = length === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${length}`;
  return `POST /api/v1/jobs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`;
}

const noop = { type: 'test.noop', payload: { n: 1 } };

describe('request limits', () => {
  it('answers 408 to a body trickling in, while other clients are served before it', async () => {
    await api(server, 'GET', '/api/v1/job-types');
    const slow = await rawSocket(postHead(200));
    const trickle = setInterval(() => slow.socket.writable && slow.socket.write(' '), 100);
    let slowAnsweredAt = 0;
    const answered = slow.response.then((text) => ((slowAnsweredAt = Date.now()), text));

    const others = await Promise.all(Array.from({ length: 10 }, () => api(server, 'POST', '/api/v1/jobs', noop)));
    const othersDoneAt = Date.now();
    const answer = await answered;
    clearInterval(trickle);

    // Relative, not absolute, times: the machine may be busy, but the slow
    // request must not hold the others behind it.
    expect(others.map((r) => r.status)).toEqual(Array(10).fill(202));
    expect(slowAnsweredAt).toBeGreaterThan(othersDoneAt);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('request_timeout');
  });

  it('keeps serving while many connections send their headers a byte at a time', async () => {
    const loris = await Promise.all(Array.from({ length: 30 }, () => rawSocket('POST /api/v1/jobs HTTP/1.1\r\nhost: x\r\n')));
    const drip = setInterval(() => loris.forEach((l) => l.socket.writable && l.socket.write('x')), 100);

    const res = await api(server, 'GET', '/api/v1/job-types');
    clearInterval(drip);

    expect(res.status).toBe(200);
  });

  it('refuses a declared length over the limit with 413 without reading the body', async () => {
    const big = await rawSocket(postHead(10_000_000));

    expect(await big.response).toMatch(/^HTTP\/1\.1 413/);
  });

  it('cuts a streamed body off at the limit with 413', async () => {
    // A raw chunked body: the server answers and closes mid-upload, which a
    // fetch client would report as a broken pipe instead of the answer. Just
    // over the 4 KiB limit is sent: bytes the server never reads would make
    // its close a reset, which can discard the 413 before the client reads it.
    const stream = await rawSocket(postHead('chunked'));
    for (let i = 0; i < 5 && stream.socket.writable; i++) stream.socket.write(`3e8\r\n${' '.repeat(1000)}\r\n`);

    expect(await stream.response).toMatch(/^HTTP\/1\.1 413/);
  });

  it('refuses headers over 16 KiB with 431', async () => {
    const res = await fetch(`${server.url}/api/v1/job-types`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'x-padding': 'a'.repeat(20_000) },
    });

    expect(res.status).toBe(431);
  });

  it('refuses JSON nested deeper than 64 levels with 400', async () => {
    const deep = '['.repeat(100) + ']'.repeat(100);
    const res = await fetch(`${server.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: `{"type":"test.noop","payload":{"n":${deep}}}`,
    });

    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/deeper than 64/);
  });
});
