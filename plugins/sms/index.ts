import { definePlugin, failureForStatus, PermanentError, RetryAfterError, z, type HandlerContext } from '../../src/sdk/index.ts';

/** Provider error codes that no retry can fix (Twilio's numbering): bad or unreachable numbers, opted-out recipients. */
const PERMANENT_CODES = new Set([21211, 21214, 21408, 21610, 21612, 21614]);
/** Wait after a 429 that came without `Retry-After`. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 1000;

/** `plugins.settings.sms`: the provider account. Credentials never come from payloads. */
const settingsSchema = z.object({
  /** A Twilio-compatible API; tests point it at a local server. */
  baseUrl: z.url().default('https://api.twilio.com'),
  accountSid: z.string().min(1),
  authToken: z.string().min(1),
  /** The sender: a phone number in E.164 form... */
  from: z.string().regex(/^\+[1-9]\d{6,14}$/).optional(),
  /** ...or a messaging service that picks one. */
  messagingServiceSid: z.string().min(1).optional(),
  timeoutMs: z.number().int().min(100).max(120_000).default(15_000),
}).refine((s) => s.from || s.messagingServiceSid, { message: 'set from or messagingServiceSid', path: ['from'] });

const payloadSchema = z.object({
  /** The recipient in E.164 form, e.g. `+447700900123`. */
  to: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be a phone number in E.164 form, e.g. +447700900123'),
  body: z.string().min(1).max(1600),
  /** Where the provider reports delivery status. */
  statusCallback: z.url({ protocol: /^https?$/ }).optional(),
});

type SmsPayload = z.infer<typeof payloadSchema>;

/**
 * Sends one SMS through a Twilio-style Messages API. The provider's rate
 * limit is honoured: a 429 retries after its `Retry-After`. Once the provider
 * has accepted the message its id is kept on the job, so a retry does not
 * send it again.
 */
async function sendSms(payload: SmsPayload, ctx: HandlerContext) {
  const saved = await ctx.checkpoint.get<{ sid: string; status: string }>();
  if (saved?.sid) return saved;

  const parsed = settingsSchema.safeParse(ctx.config ?? {});
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new PermanentError(`plugins.settings.sms is invalid: ${where}`, { reason: 'not_configured' });
  }
  const settings = parsed.data;

  const form = new URLSearchParams({ To: payload.to, Body: payload.body });
  if (settings.messagingServiceSid) form.set('MessagingServiceSid', settings.messagingServiceSid);
  else form.set('From', settings.from!);
  if (payload.statusCallback) form.set('StatusCallback', payload.statusCallback);

  const url = `${settings.baseUrl.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
  const response = await ctx.http.fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${settings.accountSid}:${settings.authToken}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: form,
    timeoutMs: settings.timeoutMs,
  });
  const body = (await response.json().catch(() => ({}))) as { sid?: string; status?: string; code?: number; message?: string };

  if (response.ok && body.sid) {
    const sent = { sid: body.sid, status: body.status ?? 'queued' };
    await ctx.checkpoint.set(sent);
    ctx.log.info({ sid: sent.sid }, 'sms accepted by provider');
    return sent;
  }
  throw classify(response, body);
}

function classify(response: Response, body: { code?: number; message?: string }): Error {
  const detail = `SMS provider answered ${response.status}${body.code ? ` (code ${body.code})` : ''}: ${body.message ?? 'no message'}`;

  if (response.status === 429) {
    const failure = failureForStatus(429, response.headers.get('retry-after'), 'SMS provider');
    return failure instanceof RetryAfterError ? failure : new RetryAfterError(detail, DEFAULT_RATE_LIMIT_WAIT_MS);
  }
  if (body.code && PERMANENT_CODES.has(body.code)) return new PermanentError(detail, { reason: `sms_${body.code}` });
  if (response.status === 401 || response.status === 403) return new PermanentError(detail, { reason: 'provider_auth' });
  if (response.ok) return new Error(`${detail} (no message sid)`);
  const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'SMS provider')!;
  return failure.name === 'PermanentError' ? new PermanentError(detail, { reason: `http_${response.status}` }) : failure;
}

export default definePlugin({
  name: 'sms',
  version: '1.0.0',
  jobs: {
    'sms.send': {
      description: 'Send an SMS through a Twilio-style HTTP API.',
      schema: payloadSchema,
      handler: sendSms,
      defaults: { timeoutMs: 60_000 },
    },
  },
});
