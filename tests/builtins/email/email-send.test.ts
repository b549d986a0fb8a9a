import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { freePort } from '../../../src/redis/index.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';
import { finished } from '../support.ts';
import { startTestSmtp, type TestSmtp } from './smtp-test-server.ts';

let runtime: Runtime | undefined;
let smtp: TestSmtp | undefined;
afterEach(async () => {
  await runtime?.stop();
  await smtp?.close();
  runtime = smtp = undefined;
});

async function start(port: number) {
  runtime = await startTestRuntime({
    config: {
      defaults: { backoffMs: 50 },
      plugins: { settings: { email: { from: 'Shop <shop@sender.test>', smtp: { port, ignoreTLS: true, connectionTimeoutMs: 2000 } } } },
    },
  });
  return runtime;
}

describe('email.send', () => {
  it('sends a templated message with text and HTML parts, cc, bcc and a stored file attached', async () => {
    smtp = await startTestSmtp();
    const rt = await start(smtp.port);
    const draft = await rt.files.forJob('test.report').create({ name: 'sales.csv', contentType: 'text/csv' });
    writeFileSync(draft.path, 'region,total\nnorth,42\n');
    const file = await draft.commit();

    const { id } = await rt.producer.submit({
      type: 'email.send',
      payload: {
        to: { name: 'Ada', address: 'ada@example.test' },
        cc: 'boss@example.test',
        bcc: ['audit@example.test'],
        template: 'welcome',
        data: { name: 'Ada', product: 'Widgets', link: 'https://widgets.example.test/start' },
        attachments: [{ fileId: file.id }, { filename: 'note.txt', content: Buffer.from('hello').toString('base64') }],
      },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(smtp.received).toHaveLength(1);
    const { envelope, mail } = smtp.received[0];
    expect(envelope.from).toBe('shop@sender.test');
    expect(envelope.to.sort()).toEqual(['ada@example.test', 'audit@example.test', 'boss@example.test']);
    expect(mail.subject).toBe('Welcome to Widgets, Ada');
    expect(mail.text).toContain('Open Widgets: https://widgets.example.test/start');
    expect(mail.html).toContain('<h1>Welcome, Ada!</h1>');
    expect(mail.headers.get('bcc')).toBeUndefined();
    expect(mail.messageId).toBe(`<${id}@taskmaster>`);
    expect(mail.attachments.map((a) => [a.filename, a.content.toString()])).toEqual([
      ['sales.csv', 'region,total\nnorth,42\n'],
      ['note.txt', 'hello'],
    ]);
  });

  it('escapes template values in HTML and makes a text part from HTML-only messages', async () => {
    smtp = await startTestSmtp();
    const rt = await start(smtp.port);

    const { id } = await rt.producer.submit({
      type: 'email.send',
      payload: { to: 'ada@example.test', template: 'welcome', data: { name: '<b>Ada</b>', product: 'W' } },
    });
    const { id: id2 } = await rt.producer.submit({
      type: 'email.send',
      payload: { to: 'ada@example.test', subject: 'Hi', html: '<p>Line one</p><p>Tom &amp; Jerry</p>' },
    });
    await finished(rt, id);
    await finished(rt, id2);

    const [first, second] = [...smtp.received].sort((a, b) => a.mail.subject!.localeCompare(b.mail.subject!));
    expect(second.mail.html).toContain('&lt;b&gt;Ada&lt;/b&gt;');
    expect(first.mail.text?.trim()).toBe('Line one\nTom & Jerry');
  });

  it('retries a 451 answer and delivers exactly once', async () => {
    smtp = await startTestSmtp();
    smtp.failNextData(1, 451);
    const rt = await start(smtp.port);

    const { id } = await rt.producer.submit({ type: 'email.send', payload: { to: 'ada@example.test', subject: 'Hi', text: 'x' } });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(job.attempts[0].error?.message).toMatch(/451/);
    expect(smtp.received).toHaveLength(1);
  });

  it('retries when the SMTP server refuses the connection', async () => {
    const rt = await start(await freePort());

    const { id } = await rt.producer.submit({
      type: 'email.send',
      payload: { to: 'ada@example.test', subject: 'Hi', text: 'x' },
      retries: 1,
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(2);
    expect(job.attempts[0].error?.name).not.toBe('PermanentError');
    expect(job.attempts[0].error?.message).toMatch(/ECONNREFUSED|connect/i);
  });

  it('fails for good, once, when the server refuses the recipient with 550', async () => {
    smtp = await startTestSmtp();
    const rt = await start(smtp.port);

    const { id } = await rt.producer.submit({ type: 'email.send', payload: { to: 'ghost@unknown.test', subject: 'Hi', text: 'x' } });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
    expect(smtp.received).toHaveLength(0);
  });

  it('fails for good on an unknown template or a missing attachment file', async () => {
    smtp = await startTestSmtp();
    const rt = await start(smtp.port);

    const a = await rt.producer.submit({ type: 'email.send', payload: { to: 'ada@example.test', template: 'nope' } });
    const b = await rt.producer.submit({
      type: 'email.send',
      payload: { to: 'ada@example.test', subject: 'x', text: 'x', attachments: [{ fileId: 'f_AAAAAAAAAAAAAAAA' }] },
    });

    for (const { id } of [a, b]) {
      const job = await finished(rt, id);
      expect(job.attempts).toHaveLength(1);
      expect(job.attempts[0].error?.name).toBe('PermanentError');
    }
    expect(smtp.received).toHaveLength(0);
  });

  it('rejects a bad address at submission, naming the field', async () => {
    const rt = await start(await freePort());

    const attempt = rt.producer.submit({ type: 'email.send', payload: { to: 'not-an-address', subject: 'x', text: 'x' } });

    await expect(attempt).rejects.toMatchObject({ name: 'ValidationError' });
    const err = await attempt.catch((e) => e);
    expect(err.issues.map((i: { field: string }) => i.field)).toContain('payload.to');
  });
});
