import { definePlugin, failureForStatus, PermanentError, z, type HandlerContext } from '../../src/sdk/index.ts';
import { signatureHeaders } from './signature.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

const settingsSchema = z
  .object({
    /** Signing secrets by name (`whsec_...`); a payload picks one with `secret`. */
    secrets: z.record(z.string(), z.string()).default({}),
  })
  .default({ secrets: {} });

const payloadSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  /** The JSON body to send. */
  body: z.unknown(),
  /** Name of the signing secret in `plugins.settings.webhooks.secrets`. */
  secret: z.string().min(1).default('default'),
  /** Extra request headers; the signature headers cannot be overridden. */
  headers: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().min(100).max(120_000).default(DEFAULT_TIMEOUT_MS),
});

type WebhookPayload = z.infer<typeof payloadSchema>;

/**
 * Delivers a JSON body to a URL, signed per Standard Webhooks. The
 * `webhook-id` is derived from the job id, so every retry of a delivery
 * carries the same one and receivers can de-duplicate.
 */
async function deliver(payload: WebhookPayload, ctx: HandlerContext) {
  const settings = settingsSchema.parse(ctx.config ?? {});
  const secret = settings.secrets[payload.secret];
  if (!secret) throw new PermanentError(`no webhook secret named ${payload.secret} is configured`, { reason: 'unknown_secret' });

  const body = JSON.stringify(payload.body ?? null);
  const id = `msg_${ctx.jobId}`;
  const headers = {
    ...payload.headers,
    'content-type': 'application/json',
    'user-agent': 'TaskMaster-Webhooks/1',
    ...signatureHeaders(secret, id, Math.floor(Date.now() / 1000), body),
  };

  // Network errors and timeouts reject here and are retried with backoff.
  // A redirect is not followed: the receiver must answer at the URL it gave.
  const response = await ctx.http.fetch(payload.url, {
    method: 'POST',
    headers,
    body,
    maxRedirects: 0,
    timeoutMs: payload.timeoutMs,
  });
  await response.body?.cancel();

  const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'receiver');
  if (failure) throw failure;
  return { status: response.status, webhookId: id };
}

export default definePlugin({
  name: 'webhooks',
  version: '1.0.0',
  jobs: {
    'webhook.deliver': {
      description: 'POST a signed JSON body to a URL (Standard Webhooks).',
      schema: payloadSchema,
      handler: deliver,
      // One breaker per receiving host: a receiver that is down defers its own deliveries only.
      downstream: (payload: WebhookPayload) => new URL(payload.url).host,
    },
  },
});
