import webpush from 'web-push';
import { failureForStatus, PermanentError, z, type HandlerContext } from '../../src/sdk/index.ts';

/** `plugins.settings.push.vapid`: the application server's VAPID identity. */
export const vapidSettingsSchema = z.object({
  /** `mailto:` or `https:` contact for push services. */
  subject: z.string().regex(/^(mailto:|https:)/, 'must start with mailto: or https:'),
  publicKey: z.string().min(80),
  privateKey: z.string().min(40),
});

export type VapidSettings = z.infer<typeof vapidSettingsSchema>;

export const webPushMessageSchema = z.object({
  target: z.literal('webpush'),
  /** A browser's PushSubscription, as `subscription.toJSON()` gives it. */
  subscription: z.object({
    endpoint: z.url({ protocol: /^https?$/ }),
    keys: z.object({ p256dh: z.string().min(80).max(100), auth: z.string().min(16).max(32) }),
  }),
  /** What the service worker receives: a string or JSON. Encrypted end to end. */
  message: z.union([z.string().max(3000), z.record(z.string(), z.unknown())]),
  /** How long the push service keeps it for an offline browser. */
  ttlSeconds: z.number().int().min(0).max(28 * 24 * 3600).default(24 * 3600),
  urgency: z.enum(['very-low', 'low', 'normal', 'high']).default('normal'),
  /** Replaces an undelivered message with the same topic. */
  topic: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).optional(),
});

export type WebPushMessage = z.infer<typeof webPushMessageSchema>;

/**
 * Sends one Web Push message: the payload encrypted for the subscription
 * (RFC 8291, aes128gcm) and the request signed with VAPID (RFC 8292), both by
 * the `web-push` package, then POSTed through TaskMaster's outbound client. A
 * push service answering 404 or 410 says the subscription is gone: that is
 * permanent, reported with reason `subscription_expired`.
 */
export async function sendWebPush(message: WebPushMessage, vapid: VapidSettings, ctx: HandlerContext) {
  const body = typeof message.message === 'string' ? message.message : JSON.stringify(message.message);

  let request: { endpoint: string; method: string; headers: Record<string, string>; body: Buffer | null };
  try {
    request = webpush.generateRequestDetails(message.subscription, body, {
      vapidDetails: vapid,
      TTL: message.ttlSeconds,
      urgency: message.urgency,
      topic: message.topic,
      contentEncoding: 'aes128gcm',
    }) as typeof request;
  } catch (err) {
    // Bad subscription keys or VAPID keys: no retry can fix them.
    throw new PermanentError(`cannot encrypt or sign the push message: ${(err as Error).message}`, { reason: 'invalid_subscription' });
  }

  const response = await ctx.http.fetch(request.endpoint, {
    method: 'POST',
    headers: request.headers,
    body: request.body ? new Uint8Array(request.body) : undefined,
    maxRedirects: 0,
  });
  await response.body?.cancel();

  if (response.status === 404 || response.status === 410) {
    ctx.log.warn({ pushService: new URL(request.endpoint).origin, status: response.status }, 'push subscription expired');
    throw new PermanentError(`push subscription expired (${response.status})`, { reason: 'subscription_expired' });
  }
  const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'push service');
  if (failure) throw failure;
  return { target: 'webpush', status: response.status, location: response.headers.get('location') ?? undefined };
}
