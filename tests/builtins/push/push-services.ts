import { createECDH, createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import ece from 'http_ece';
import { json, startHttpServer, type TestHttpServer } from '../http-test-server.ts';

/** A browser's side of a push subscription: its ECDH key pair and auth secret. */
export function browserSubscription(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    ecdh,
    auth,
    subscription: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } },
  };
}

export interface DecryptedPush {
  path: string;
  plaintext: string;
  ttl: string | undefined;
  urgency: string | undefined;
  vapidClaims: { aud: string; sub: string; exp: number };
}

/**
 * A push service speaking RFC 8030: it checks the VAPID JWT (RFC 8292) against
 * the key in the Authorization header, decrypts the aes128gcm body (RFC 8291)
 * with the browser's private key, and answers 201. Paths ending in `/gone`
 * answer 410 and `/busy` 503 once.
 */
export async function startPushService(browser: { ecdh: ReturnType<typeof createECDH>; auth: Buffer }) {
  const delivered: DecryptedPush[] = [];
  let busy = false;
  const server: TestHttpServer = await startHttpServer((req, res) => {
    if (req.url.pathname.endsWith('/gone')) return void res.writeHead(410).end();
    if (req.url.pathname.endsWith('/busy') && !busy) {
      busy = true;
      return void res.writeHead(503, { 'retry-after': '0' }).end();
    }

    const vapid = /^vapid t=([^,]+), k=(.+)$/.exec(String(req.headers.authorization));
    if (!vapid) return void res.writeHead(401).end('no vapid');
    const [header, claims, signature] = vapid[1].split('.');
    const raw = Buffer.from(vapid[2], 'base64url');
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
      format: 'jwk',
    });
    const valid = verify('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
    if (!valid) return void res.writeHead(403).end('bad vapid signature');
    if (req.headers['content-encoding'] !== 'aes128gcm') return void res.writeHead(415).end();

    const plaintext = ece.decrypt(req.body, { version: 'aes128gcm', privateKey: browser.ecdh, authSecret: browser.auth.toString('base64url') });
    delivered.push({
      path: req.url.pathname,
      plaintext: plaintext.toString('utf8'),
      ttl: req.headers.ttl as string | undefined,
      urgency: req.headers.urgency as string | undefined,
      vapidClaims: JSON.parse(Buffer.from(claims, 'base64url').toString()),
    });
    res.writeHead(201, { location: `${req.url.pathname}/messages/${delivered.length}` }).end();
  });
  return { server, delivered };
}

/**
 * FCM HTTP v1 and Google's OAuth2 token endpoint: the token endpoint checks
 * the service account's RS256 assertion; messages:send checks the bearer
 * token, answers 404 UNREGISTERED for token `stale` and 503 once for `busy`.
 */
export async function startFcm(projectId: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const accessToken = `ya29.${randomBytes(8).toString('hex')}`;
  const messages: unknown[] = [];
  let busy = false;

  const server = await startHttpServer((req, res) => {
    if (req.url.pathname === '/token') {
      const form = new URLSearchParams(req.body.toString());
      const [header, claims, signature] = String(form.get('assertion')).split('.');
      const ok = verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature, 'base64url'));
      const body = JSON.parse(Buffer.from(claims, 'base64url').toString());
      if (!ok || form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !String(body.scope).includes('firebase.messaging')) {
        return json(res, 400, { error: 'invalid_grant' });
      }
      return json(res, 200, { access_token: accessToken, expires_in: 3600, token_type: 'Bearer' });
    }

    if (req.url.pathname !== `/v1/projects/${projectId}/messages:send`) return json(res, 404, { error: { status: 'NOT_FOUND' } });
    if (req.headers.authorization !== `Bearer ${accessToken}`) return json(res, 401, { error: { status: 'UNAUTHENTICATED' } });
    const { message } = JSON.parse(req.body.toString());
    if (message.token === 'stale') {
      return json(res, 404, { error: { code: 404, status: 'NOT_FOUND', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } });
    }
    if (message.token === 'busy' && !busy) {
      busy = true;
      return json(res, 503, { error: { status: 'UNAVAILABLE' } });
    }
    messages.push(message);
    json(res, 200, { name: `projects/${projectId}/messages/${messages.length}` });
  });

  return {
    server,
    messages,
    settings: {
      projectId,
      clientEmail: 'sender@project.iam.gserviceaccount.test',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      baseUrl: server.url,
      tokenUrl: `${server.url}/token`,
    },
  };
}
