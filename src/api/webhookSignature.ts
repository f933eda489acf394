/**
 * Webhook signatures as the Standard Webhooks specification defines them, so receivers can verify
 * with any of its libraries: each POST carries
 * - `webhook-id`: the delivery id (the same on every retry of one change, so receivers drop duplicates),
 * - `webhook-timestamp`: Unix seconds of the attempt (receivers refuse old ones: no replays),
 * - `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` under the
 *   subscription's secret.
 * A secret is `whsec_` and the base64 of 32 random bytes; the key is the decoded bytes.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { invalid } from './errors.js';

const PREFIX = 'whsec_';

/** A new secret, `whsec_<base64 of 32 random bytes>`. */
export function newWebhookSecret(random: (bytes: number) => Buffer = randomBytes): string {
  return `${PREFIX}${random(32).toString('base64')}`;
}

/** The key of a secret; a secret of another shape is a 400 that never repeats it. */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : '';
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
  if (key.length < 24 || key.length > 64) {
    throw invalid('body.secret must be whsec_ followed by the base64 of 24 to 64 random bytes (leave it out and the server makes one)', { field: 'secret' });
  }
  return key;
}

/** The three headers of one attempt. */
export function signatureHeaders(key: Buffer, id: string, timestampSeconds: number, body: string): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = String(timestampSeconds);
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
