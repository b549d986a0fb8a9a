import { definePlugin, PermanentError, USER_ID, z, type HandlerContext } from '../../src/sdk/index.ts';

/** `plugins.settings.inapp`. */
const settingsSchema = z
  .object({
    /** Largest notification accepted, as JSON bytes; bigger ones fail for good. */
    maxBytes: z.number().int().min(256).default(16 * 1024),
  })
  .prefault({});

const payloadSchema = z.object({
  userId: z.string().regex(USER_ID, 'letters, digits and _ . @ : - only, at most 128'),
  title: z.string().min(1).max(200),
  body: z.string().max(4000).optional(),
  /** Where the notification leads in the app. */
  link: z.string().max(2000).optional(),
  /** Anything the app needs to show it. */
  data: z.unknown().optional(),
  /** The notification's id; default one derived from the job, so a retry cannot store it twice. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'letters, digits and _ . : - only, at most 128')
    .optional(),
});

type InAppPayload = z.infer<typeof payloadSchema>;

/**
 * Stores a notification in the user's in-app inbox (newest first, capped per
 * user) and announces it to live streams. Readable through
 * `GET /api/v1/notifications/:userId`.
 */
async function notify(payload: InAppPayload, ctx: HandlerContext) {
  const settings = settingsSchema.parse(ctx.config ?? {});
  const { userId, id, ...content } = payload;

  const size = Buffer.byteLength(JSON.stringify(payload));
  if (size > settings.maxBytes) {
    throw new PermanentError(`notification is ${size} bytes; the limit is ${settings.maxBytes}`, { reason: 'too_large' });
  }

  const { notification, stored } = await ctx.notifications.push(userId, { id: id ?? `n_${ctx.jobId}`, ...content });
  return { id: notification.id, userId, stored };
}

export default definePlugin({
  name: 'inapp',
  version: '1.0.0',
  jobs: {
    'notify.inapp': {
      description: 'Store an in-app notification for a user, readable and streamable through the API.',
      schema: payloadSchema,
      handler: notify,
    },
  },
});
