import { readFile } from 'node:fs/promises';
import { failureForStatus, PermanentError, z, type HandlerContext } from '../../src/sdk/index.ts';
import { generateReport, type ReportResult, type ReportState } from './generate.ts';
import { reportSpecSchema } from './spec.ts';

const recipients = z.union([z.email(), z.array(z.email()).min(1).max(100)]);

export const deliverPayloadSchema = z.object({
  format: z.enum(['pdf', 'excel']),
  report: reportSpecSchema,
  /** Email the report as an attachment (through an `email.send` job)... */
  email: z
    .object({
      to: recipients,
      cc: recipients.optional(),
      bcc: recipients.optional(),
      /** Defaults to the report's title. */
      subject: z.string().min(1).max(998).optional(),
      text: z.string().max(100_000).optional(),
    })
    .optional(),
  /** ...or POST the file to a URL. */
  webhook: z
    .object({
      url: z.url({ protocol: /^https?$/ }),
      headers: z.record(z.string(), z.string()).default({}),
      timeoutMs: z.number().int().min(100).max(300_000).default(60_000),
    })
    .optional(),
}).refine((p) => Boolean(p.email) !== Boolean(p.webhook), { message: 'give exactly one of email and webhook', path: ['email'] });

type DeliverPayload = z.infer<typeof deliverPayloadSchema>;

interface DeliverState extends ReportState {
  delivered?: Record<string, unknown>;
}

/**
 * Generates a report, then delivers it: by email, as an attachment of a
 * follow-up `email.send` job, or by POSTing the file to a webhook. The report
 * is made once however often delivery is retried, and a delivery that
 * succeeded is not repeated.
 */
export async function deliverReport(payload: DeliverPayload, ctx: HandlerContext) {
  const load = () => ctx.checkpoint.get<DeliverState>();
  const report = await generateReport(payload.format, payload.report, ctx, load, async (state) => {
    await ctx.checkpoint.set({ ...(await load()), ...state } satisfies DeliverState);
  });

  const saved = await load();
  if (saved?.delivered) return { report, delivered: saved.delivered };

  const delivered = payload.email ? await byEmail(payload, report, ctx) : await byWebhook(payload, report, ctx);
  await ctx.checkpoint.set({ ...(await load())!, delivered } satisfies DeliverState);
  return { report, delivered };
}

async function byEmail(payload: DeliverPayload, report: ReportResult, ctx: HandlerContext) {
  const email = payload.email!;
  const job = await ctx.submit({
    type: 'email.send',
    idempotencyKey: `report.deliver:${ctx.jobId}`,
    payload: {
      to: email.to,
      cc: email.cc,
      bcc: email.bcc,
      subject: email.subject ?? payload.report.title,
      text: email.text ?? `${payload.report.title} is attached (${report.rows} rows).`,
      attachments: [{ fileId: report.fileId }],
    },
  });
  return { via: 'email', emailJobId: job.id };
}

async function byWebhook(payload: DeliverPayload, report: ReportResult, ctx: HandlerContext) {
  const webhook = payload.webhook!;
  const file = await ctx.files.get(report.fileId);
  if (!file) throw new PermanentError(`report file ${report.fileId} has expired`, { reason: 'report_missing' });

  // The file is sent whole: reports are tens of MB at most, and a Buffer body
  // needs no streaming support from the receiver.
  const response = await ctx.http.fetch(webhook.url, {
    method: 'POST',
    headers: {
      ...webhook.headers,
      'content-type': file.contentType,
      'content-disposition': `attachment; filename="${file.name}"`,
      'x-report-id': file.id,
      'x-report-rows': String(report.rows),
      'idempotency-key': `report.deliver:${ctx.jobId}`,
    },
    body: new Uint8Array(await readFile(file.path)),
    maxRedirects: 0,
    timeoutMs: webhook.timeoutMs,
  });
  await response.body?.cancel();

  const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'webhook receiver');
  if (failure) throw failure;
  return { via: 'webhook', status: response.status };
}
