import { createServer, type Server } from 'node:http';
import { fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../src/engine/outbound.ts';
import { OutboundGuard, OUTBOUND_BLOCKED } from '../../src/engine/outbound-guard.ts';

let server: Server | undefined;
let guard: OutboundGuard | undefined;
let hits: string[] = [];

afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await guard?.close();
  server = guard = undefined;
  hits = [];
});

/** A loopback server that records each request and answers with `answer`. */
async function listen(host: '127.0.0.1' | '::1', answer: (path: string) => { status: number; location?: string }) {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const { status, location } = answer(req.url ?? '');
    res.writeHead(status, location ? { location } : {}).end('ok');
  });
  await new Promise<void>((r) => server!.listen(0, host, r));
  return (server.address() as { port: number }).port;
}

function client(allow: string[] = []) {
  guard = new OutboundGuard(allow);
  return createHttpClient({ guard });
}

async function refusal(promise: Promise<unknown>) {
  const err = (await promise.then(
    () => undefined,
    (e) => e,
  )) as { name: string; reason: string; message: string } | undefined;
  expect(err, 'the request was not refused').toBeDefined();
  expect(err!.name).toBe('PermanentError');
  expect(err!.reason).toBe(OUTBOUND_BLOCKED);
  return err!;
}

describe('outbound guard', () => {
  it.each([
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://224.0.0.1/',
  ])('refuses the special address %s before connecting', async (url) => {
    const err = await refusal(client().fetch(url));

    expect(err.message).toMatch(/outbound request refused/);
  });

  it.each([
    ['IPv4 loopback', 'http://127.0.0.1:PORT/'],
    ['a host name resolving to 127.0.0.1', 'http://localhost:PORT/'],
    ['decimal IPv4', 'http://2130706433:PORT/'],
    ['hex IPv4', 'http://0x7f000001:PORT/'],
    ['octal IPv4', 'http://0177.0.0.1:PORT/'],
    ['short IPv4', 'http://127.1:PORT/'],
    ['IPv4-mapped IPv6', 'http://[::ffff:127.0.0.1]:PORT/'],
  ])('refuses %s, and the server sees nothing', async (_name, url) => {
    const port = await listen('127.0.0.1', () => ({ status: 200 }));

    await refusal(client().fetch(url.replace('PORT', String(port))));

    expect(hits).toEqual([]);
  });

  it('refuses IPv6 loopback', async () => {
    const port = await listen('::1', () => ({ status: 200 }));

    await refusal(client().fetch(`http://[::1]:${port}/`));

    expect(hits).toEqual([]);
  });

  it('refuses schemes other than http and https', async () => {
    await refusal(client().fetch('file:///etc/passwd'));
  });

  it('reaches loopback when the allow-list names it, by CIDR, address or host', async () => {
    const port = await listen('127.0.0.1', () => ({ status: 200 }));

    expect((await client(['127.0.0.0/8']).fetch(`http://127.0.0.1:${port}/a`)).status).toBe(200);
    await guard!.close();
    expect((await client(['127.0.0.1']).fetch(`http://[::ffff:127.0.0.1]:${port}/b`)).status).toBe(200);
    await guard!.close();
    expect((await client(['localhost']).fetch(`http://localhost:${port}/c`)).status).toBe(200);
    expect(hits).toEqual(['/a', '/b', '/c']);
  });

  it('checks every redirect: a hop to the metadata address is refused before it is requested', async () => {
    const port = await listen('127.0.0.1', () => ({ status: 302, location: 'http://169.254.169.254/latest/meta-data/' }));

    const err = await refusal(client(['127.0.0.1']).fetch(`http://127.0.0.1:${port}/start`));

    expect(err.message).toMatch(/169\.254\.169\.254 is a linkLocal address/);
    expect(hits).toEqual(['/start']);
  });

  it('checks every redirect: a hop to the metadata address in IPv4-mapped form is refused', async () => {
    const port = await listen('127.0.0.1', () => ({ status: 307, location: 'http://[::ffff:a9fe:a9fe]/latest/' }));

    await refusal(client(['127.0.0.1']).fetch(`http://127.0.0.1:${port}/start`));

    expect(hits).toEqual(['/start']);
  });

  it('checks again at connect time, so a name cannot resolve differently for the connection', async () => {
    const port = await listen('127.0.0.1', () => ({ status: 200 }));
    guard = new OutboundGuard([]);

    // Straight to the dispatcher, skipping the URL check: its own lookup refuses.
    const err = await undiciFetch(`http://localhost:${port}/`, { dispatcher: guard.dispatcher }).then(
      () => undefined,
      (e: Error) => e,
    );

    expect((err?.cause as { name?: string } | undefined)?.name).toBe('PermanentError');
    expect(hits).toEqual([]);
  });
});

describe('outbound.allow configuration', () => {
  it('names an entry that is neither a CIDR, an address nor a host name', async () => {
    const { loadConfig } = await import('../../src/config/index.ts');

    expect(() => loadConfig({}, { outbound: { allow: ['10.0.0.0/8', 'not a host!'] } })).toThrow(/outbound\.allow\.1/);
    expect(loadConfig({ TASKMASTER_OUTBOUND_ALLOW: '127.0.0.1, ::1' }).outbound.allow).toEqual(['127.0.0.1', '::1']);
  });
});
