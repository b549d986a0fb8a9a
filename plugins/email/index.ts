import type Mail from 'nodemailer/lib/mailer';
import { definePlugin, PermanentError, z, type HandlerContext } from '../../src/sdk/index.ts';
import { readSettings, type EmailSettings } from './settings.ts';
import { classifySmtpError } from './smtp-errors.ts';
import { htmlToText, renderTemplate, TEMPLATE_NAME } from './templates.ts';

const address = z.union([z.email(), z.object({ name: z.string().max(200), address: z.email() })]);
const recipients = z.union([address, z.array(address).min(1).max(100)]);

const attachment = z.union([
  z.object({
    /** A file a job stored, e.g. the `fileId` a report job returned. */
    fileId: z.string().min(1),
    filename: z.string().min(1).max(255).optional(),
  }),
  z.object({
    filename: z.string().min(1).max(255),
    /** The file's bytes, base64. */
    content: z.base64(),
    contentType: z.string().min(3).optional(),
  }),
]);

export const emailPayloadSchema = z
  .object({
    to: recipients,
    cc: recipients.optional(),
    bcc: recipients.optional(),
    /** Sender; defaults to `plugins.settings.email.from`. */
    from: address.optional(),
    replyTo: address.optional(),
    /** Required unless the template has a `.subject.hbs`. */
    subject: z.string().min(1).max(998).optional(),
    /** Name of a template in the templates folder. */
    template: z.string().regex(TEMPLATE_NAME, 'must be letters, digits, `_` and `-`').optional(),
    /** Values for the template. */
    data: z.record(z.string(), z.unknown()).default({}),
    /** A plain-text body, when no template is used. */
    text: z.string().max(1_000_000).optional(),
    /** An HTML body, when no template is used; a text part is made from it. */
    html: z.string().max(1_000_000).optional(),
    attachments: z.array(attachment).max(20).default([]),
  })
  .refine((p) => p.template || p.text || p.html, { message: 'give a template, text or html', path: ['template'] });

export type EmailPayload = z.infer<typeof emailPayloadSchema>;

/** What a sent message leaves on the job: once set, a retry does not send again. */
interface SentCheckpoint {
  sent: { messageId: string; accepted: string[]; rejected: string[] };
}

/**
 * Sends one email through the configured SMTP server. The Message-ID comes
 * from the job id, and once the server has taken the message the job records
 * it, so a retry after that point does not send a second copy.
 */
async function sendEmail(payload: EmailPayload, ctx: HandlerContext) {
  const saved = await ctx.checkpoint.get<SentCheckpoint>();
  if (saved?.sent) return { ...saved.sent, resent: false };

  const settings = readSettings(ctx.config);
  const message = await buildMessage(payload, settings, ctx);

  // Loaded on first use, so processes that never send mail do not pay for it.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: settings.smtp.host,
    port: settings.smtp.port,
    secure: settings.smtp.secure,
    requireTLS: settings.smtp.requireTLS,
    ignoreTLS: settings.smtp.ignoreTLS,
    auth: settings.smtp.auth,
    connectionTimeout: settings.smtp.connectionTimeoutMs,
    greetingTimeout: settings.smtp.connectionTimeoutMs,
    socketTimeout: settings.smtp.socketTimeoutMs,
  });
  const stop = () => transport.close();
  ctx.signal.addEventListener('abort', stop, { once: true });

  try {
    const info = await transport.sendMail(message);
    const sent = {
      messageId: info.messageId,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
    };
    await ctx.checkpoint.set({ sent } satisfies SentCheckpoint);
    ctx.log.info({ messageId: sent.messageId, accepted: sent.accepted.length, rejected: sent.rejected.length }, 'email sent');
    return sent;
  } catch (err) {
    throw classifySmtpError(err);
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    transport.close();
  }
}

async function buildMessage(payload: EmailPayload, settings: EmailSettings, ctx: HandlerContext): Promise<Mail.Options> {
  // 1. The body: a template, or the payload's own text/html.
  const rendered = payload.template
    ? await renderTemplate(settings.templatesDir, payload.template, payload.data)
    : { html: payload.html, text: payload.text, subject: undefined };
  const subject = payload.subject ?? rendered.subject;
  if (!subject) throw new PermanentError('no subject: give one or add a .subject.hbs template', { reason: 'no_subject' });

  // 2. Attachments: stored files are read from disk by nodemailer, not loaded here.
  const attachments: Mail.Attachment[] = [];
  for (const item of payload.attachments) {
    if ('fileId' in item) {
      const file = await ctx.files.get(item.fileId);
      if (!file) throw new PermanentError(`attachment file ${item.fileId} is unknown or expired`, { reason: 'attachment_missing' });
      attachments.push({ filename: item.filename ?? file.name, path: file.path, contentType: file.contentType });
    } else {
      attachments.push({ filename: item.filename, content: Buffer.from(item.content, 'base64'), contentType: item.contentType });
    }
  }

  return {
    from: payload.from ?? settings.from,
    to: payload.to,
    cc: payload.cc,
    bcc: payload.bcc,
    replyTo: payload.replyTo,
    subject,
    html: rendered.html,
    text: rendered.text ?? (rendered.html ? htmlToText(rendered.html) : undefined),
    attachments,
    messageId: `<${ctx.jobId}@taskmaster>`,
  };
}

export default definePlugin({
  name: 'email',
  version: '1.0.0',
  jobs: {
    'email.send': {
      description: 'Send an email over SMTP, from a Handlebars template or given text/HTML, with attachments.',
      schema: emailPayloadSchema,
      handler: sendEmail,
      defaults: { timeoutMs: 2 * 60_000 },
    },
  },
});
