import { definePlugin, PermanentError, z, type HandlerContext } from '../../src/sdk/index.ts';
import { fcmMessageSchema, fcmSettingsSchema, sendFcm } from './fcm.ts';
import { sendWebPush, vapidSettingsSchema, webPushMessageSchema } from './web-push.ts';

/** `plugins.settings.push`: VAPID keys for Web Push, a service account for FCM. */
const settingsSchema = z
  .object({
    vapid: vapidSettingsSchema.optional(),
    fcm: fcmSettingsSchema.optional(),
  })
  .prefault({});

const payloadSchema = z.discriminatedUnion('target', [webPushMessageSchema, fcmMessageSchema]);

type PushPayload = z.infer<typeof payloadSchema>;

/** Sends one push notification to a browser (Web Push) or an app (FCM). */
async function sendPush(payload: PushPayload, ctx: HandlerContext) {
  const settings = settingsSchema.safeParse(ctx.config ?? {});
  if (!settings.success) {
    throw new PermanentError(`plugins.settings.push is invalid: ${settings.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, {
      reason: 'not_configured',
    });
  }

  if (payload.target === 'webpush') {
    if (!settings.data.vapid) throw new PermanentError('Web Push needs plugins.settings.push.vapid', { reason: 'not_configured' });
    return sendWebPush(payload, settings.data.vapid, ctx);
  }
  if (!settings.data.fcm) throw new PermanentError('FCM needs plugins.settings.push.fcm', { reason: 'not_configured' });
  return sendFcm(payload, settings.data.fcm, ctx);
}

export default definePlugin({
  name: 'push',
  version: '1.0.0',
  jobs: {
    'push.send': {
      description: 'Send a push notification: Web Push (VAPID, encrypted) or FCM HTTP v1.',
      schema: payloadSchema,
      handler: sendPush,
      defaults: { timeoutMs: 60_000 },
    },
  },
});
