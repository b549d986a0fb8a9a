import { createSign } from 'node:crypto';
import { failureForStatus, PermanentError, z, type HandlerContext } from '../../src/sdk/index.ts';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** Renew an access token this long before it expires. */
const RENEW_EARLY_MS = 60_000;

/** `plugins.settings.push.fcm`: a service account and where FCM lives. */
export const fcmSettingsSchema = z.object({
  projectId: z.string().min(1),
  clientEmail: z.string().min(3),
  /** The service account's private key, PEM. */
  privateKey: z.string().min(32),
  baseUrl: z.url().default('https://fcm.googleapis.com'),
  tokenUrl: z.url().default('https://oauth2.googleapis.com/token'),
});

export type FcmSettings = z.infer<typeof fcmSettingsSchema>;

export const fcmMessageSchema = z.object({
  target: z.literal('fcm'),
  /** The app instance's registration token. */
  token: z.string().min(1).max(4096),
  notification: z.object({ title: z.string().max(500).optional(), body: z.string().max(4000).optional(), image: z.url().optional() }).optional(),
  /** FCM data values must be strings. */
  data: z.record(z.string(), z.string()).optional(),
  android: z.record(z.string(), z.unknown()).optional(),
  apns: z.record(z.string(), z.unknown()).optional(),
});

export type FcmMessage = z.infer<typeof fcmMessageSchema>;

/** Access tokens by service account, shared by the jobs of this process. */
const tokens = new Map<string, { value: string; expiresAt: number }>();

/**
 * Sends one message through the FCM HTTP v1 API, authorised with an OAuth2
 * token obtained from a signed service-account JWT. An unregistered token
 * (404, or `UNREGISTERED`) is permanent; 401 drops the cached token and retries.
 */
export async function sendFcm(message: FcmMessage, settings: FcmSettings, ctx: HandlerContext) {
  const accessToken = await getAccessToken(settings, ctx);
  const { target: _target, ...fields } = message;

  const url = `${settings.baseUrl.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(settings.projectId)}/messages:send`;
  const response = await ctx.http.fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: fields }),
  });
  const body = (await response.json().catch(() => ({}))) as { name?: string; error?: { status?: string; message?: string; details?: { errorCode?: string }[] } };

  if (response.ok) return { target: 'fcm', messageName: body.name };

  const code = body.error?.details?.find((d) => d.errorCode)?.errorCode ?? body.error?.status;
  if (response.status === 404 || code === 'UNREGISTERED') {
    throw new PermanentError(`FCM token is no longer registered (${response.status} ${code ?? ''})`.trim(), { reason: 'subscription_expired' });
  }
  if (response.status === 401) {
    tokens.delete(tokenCacheKey(settings));
    throw new Error('FCM refused the access token (401); a new one is fetched on retry');
  }
  throw failureForStatus(response.status, response.headers.get('retry-after'), `FCM (${code ?? 'no code'})`)!;
}

async function getAccessToken(settings: FcmSettings, ctx: HandlerContext): Promise<string> {
  const key = tokenCacheKey(settings);
  const cached = tokens.get(key);
  if (cached && cached.expiresAt - RENEW_EARLY_MS > Date.now()) return cached.value;

  const response = await ctx.http.fetch(settings.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: signedAssertion(settings) }),
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
  if (!response.ok || !body.access_token) {
    // A refused service account will not be accepted on retry either.
    const failure = failureForStatus(response.ok ? 502 : response.status, response.headers.get('retry-after'), 'OAuth token endpoint');
    throw failure instanceof PermanentError ? new PermanentError(failure.message, { reason: 'fcm_auth' }) : failure!;
  }

  tokens.set(key, { value: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 });
  return body.access_token;
}

/** The RS256 JWT a service account presents for an access token. */
function signedAssertion(settings: FcmSettings): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({
    iss: settings.clientEmail,
    scope: SCOPE,
    aud: settings.tokenUrl,
    iat: now,
    exp: now + 3600,
  })}`;

  let signature: string;
  try {
    signature = createSign('RSA-SHA256').update(unsigned).sign(settings.privateKey, 'base64url');
  } catch (err) {
    throw new PermanentError(`FCM private key is unusable: ${(err as Error).message}`, { reason: 'fcm_auth' });
  }
  return `${unsigned}.${signature}`;
}

function tokenCacheKey(settings: FcmSettings): string {
  return `${settings.tokenUrl}\u0000${settings.clientEmail}`;
}
