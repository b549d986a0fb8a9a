import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ADMIN_KEY, api, startServer, type TestServer } from '../../helpers/server.ts';
import { waitFor } from '../../helpers/runtime.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ redisUrl: inject('redisUrl') });
});
afterAll(async () => {
  await server?.stop();
});

/** Opens the SSE stream and collects its events until `close` is called. */
async function openStream(userId: string) {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/api/v1/notifications/${userId}/stream`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
    signal: controller.signal,
  });
  const events: { event: string; id?: string; data: string }[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
        events.push({ event: field('event') ?? 'message', id: field('id'), data: field('data') ?? '' });
      }
    }
  })().catch(() => {
    // The test aborts the stream when done; the read loop ends there.
  });
  return { response, events, close: async () => (controller.abort(), await reading) };
}

describe('notifications API', () => {
  it('streams, lists and marks read the notifications a notify.inapp job stores', async () => {
    const stream = await openStream('ada');
    expect(stream.response.headers.get('content-type')).toMatch(/text\/event-stream/);
    await waitFor(() => stream.events.find((e) => e.event === 'ready'));

    const submitted = await api(server, 'POST', '/api/v1/jobs', {
      type: 'notify.inapp',
      payload: { userId: 'ada', title: 'Your export is ready', link: '/exports/1' },
    });
    expect(submitted.status).toBe(202);

    const live = await waitFor(() => stream.events.find((e) => e.event === 'notification'));
    expect(JSON.parse(live.data)).toMatchObject({ userId: 'ada', title: 'Your export is ready', read: false });
    await stream.close();

    const listed = await api(server, 'GET', '/api/v1/notifications/ada');
    expect(listed.status).toBe(200);
    expect(listed.body.unread).toBe(1);
    expect(listed.body.notifications[0]).toMatchObject({ id: live.id, link: '/exports/1' });

    const marked = await api(server, 'POST', '/api/v1/notifications/ada/read', { ids: [live.id] });
    expect(marked.body).toEqual({ marked: 1, unread: 0 });
    const after = await api(server, 'GET', '/api/v1/notifications/ada?unread=true');
    expect(after.body).toEqual({ notifications: [], unread: 0 });
  });

  it('names the bad field of an invalid user id, query or body', async () => {
    const badUser = await api(server, 'GET', '/api/v1/notifications/%7Bx%7D');
    const badQuery = await api(server, 'GET', '/api/v1/notifications/ada?limit=0');
    const badBody = await api(server, 'POST', '/api/v1/notifications/ada/read', { ids: [] });

    expect(badUser.status).toBe(400);
    expect(badUser.body.error.details[0].field).toBe('userId');
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.error.details[0].field).toBe('query.limit');
    expect(badBody.status).toBe(400);
  });

  it('needs an API key', async () => {
    const response = await fetch(`${server.url}/api/v1/notifications/ada`);
    expect(response.status).toBe(401);
  });
});
