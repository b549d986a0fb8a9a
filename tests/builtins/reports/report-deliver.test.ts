import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';
import { startTestSmtp, type TestSmtp } from '../email/smtp-test-server.ts';
import { startHttpServer, type TestHttpServer } from '../http-test-server.ts';
import { finished } from '../support.ts';
import { COLUMNS, readSheet, testRow } from './source.ts';

let runtime: Runtime | undefined;
let receiver: TestHttpServer | undefined;
let smtp: TestSmtp | undefined;
afterEach(async () => {
  await runtime?.stop();
  await receiver?.close();
  await smtp?.close();
  runtime = receiver = smtp = undefined;
});

async function start(smtpPort = 1) {
  runtime = await startTestRuntime({
    config: {
      defaults: { backoffMs: 50 },
      outbound: { allow: ['127.0.0.1'] },
      plugins: { settings: { email: { smtp: { port: smtpPort, ignoreTLS: true } } } },
    },
  });
  return runtime;
}

const report = { title: 'Stock', columns: COLUMNS, rows: Array.from({ length: 30 }, (_, i) => testRow(i + 1)) };

describe('report.deliver', () => {
  it('emails the report as an attachment through a follow-up email.send job', async () => {
    smtp = await startTestSmtp();
    const rt = await start(smtp.port);

    const { id } = await rt.producer.submit({
      type: 'report.deliver',
      payload: { format: 'excel', report, email: { to: 'ops@example.test', subject: 'Stock report' } },
    });
    const job = await finished(rt, id);
    expect(job.attempts[0].error).toBeUndefined();
    const emailJobId = (job.result as { delivered: { emailJobId: string } }).delivered.emailJobId;
    const emailJob = await finished(rt, emailJobId);

    expect(job.state).toBe('completed');
    expect(emailJob.state).toBe('completed');
    expect(smtp.received).toHaveLength(1);
    const { mail } = smtp.received[0];
    expect(mail.subject).toBe('Stock report');
    expect(mail.attachments[0].filename).toBe('Stock.xlsx');
    expect(readSheet(mail.attachments[0].content).rows).toHaveLength(32);
  });

  it('POSTs the file to a webhook', async () => {
    const rt = await start();
    receiver = await startHttpServer((_req, res) => void res.writeHead(204).end());

    const { id } = await rt.producer.submit({
      type: 'report.deliver',
      payload: { format: 'pdf', report, webhook: { url: `${receiver.url}/reports`, headers: { 'x-team': 'ops' } } },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request.headers['content-type']).toBe('application/pdf');
    expect(request.headers['x-team']).toBe('ops');
    expect(request.headers['x-report-rows']).toBe('30');
    expect(request.body.subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('retries a 503 from the webhook without making the report again', async () => {
    const rt = await start();
    let calls = 0;
    receiver = await startHttpServer((_req, res) => void res.writeHead(++calls === 1 ? 503 : 200).end());

    const { id } = await rt.producer.submit({
      type: 'report.deliver',
      payload: { format: 'excel', report, webhook: { url: `${receiver.url}/reports` } },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    const [first, second] = receiver.requests;
    expect(second.headers['x-report-id']).toBe(first.headers['x-report-id']);
    expect(second.body.equals(first.body)).toBe(true);
  });

  it('fails for good, once, when the webhook answers 400', async () => {
    const rt = await start();
    receiver = await startHttpServer((_req, res) => void res.writeHead(400).end());

    const { id } = await rt.producer.submit({
      type: 'report.deliver',
      payload: { format: 'pdf', report, webhook: { url: `${receiver.url}/reports` } },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
  });
});
