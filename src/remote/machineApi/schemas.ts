/**
 * The JSON Schemas of the machine API's request bodies. Fastify checks a body against its schema
 * after authentication, so a handler only ever sees a body of the shape protocol.ts declares.
 */
import { MAX_NAME_LENGTH, NAME_PATTERN } from '../../domain/names.js';

const name = { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, pattern: NAME_PATTERN.source } as const;
const thumbprint = { type: 'string', pattern: '^[0-9A-F]{64}$' } as const;
const base64 = (max: number) => ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[A-Za-z0-9+/=]+$' }) as const;
const pem = { type: 'string', minLength: 1, maxLength: 16_384 } as const;
const agentVersion = { type: 'string', minLength: 1, maxLength: 64 } as const;
const envelope = {
  type: 'object',
  additionalProperties: false,
  required: ['alg', 'thumbprint', 'encryptedKey', 'iv', 'tag', 'ciphertext'],
  properties: { alg: { const: 'RSA-OAEP-256+A256GCM' }, thumbprint, encryptedKey: base64(2048), iv: base64(64), tag: base64(64), ciphertext: base64(65_536) },
} as const;
const object = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties });
/**
 * A branch of a oneOf: no additionalProperties there, because fastify's Ajv removes additional
 * properties while it tries each branch, which would strip the fields of the next one.
 */
const variant = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', required, properties });

export const schemas = {
  joinStart: object(['machine', 'signingKey'], { machine: name, signingKey: pem }),
  join: object(['machine', 'machineId', 'agentVersion', 'signingKey', 'credential', 'proof', 'credentialProof'], {
    machine: name,
    machineId: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    agentVersion,
    signingKey: pem,
    credential: {
      oneOf: [
        variant(['kind', 'certificatePem', 'passwordPackage'], { kind: { const: 'firstKey' }, certificatePem: pem, passwordPackage: base64(65_536) }),
        variant(['kind', 'keyThumbprint'], { kind: { const: 'password' }, keyThumbprint: thumbprint }),
      ],
    },
    proof: base64(1024),
    credentialProof: base64(1024),
  }),
  rejoin: object(['agentVersion', 'signingKey', 'keyThumbprint', 'proof', 'credentialProof'], {
    agentVersion, signingKey: pem, keyThumbprint: thumbprint, proof: base64(1024), credentialProof: base64(1024),
  }),
  checkIn: object(['agentVersion', 'intervalMinutes', 'heldKeys'], {
    agentVersion,
    intervalMinutes: { type: 'integer', minimum: 1, maximum: 525_600 },
    heldKeys: { type: 'array', maxItems: 16, items: thumbprint },
  }),
  publishKey: object(['certificatePem', 'wrappedUnderPrevious'], { certificatePem: pem, wrappedUnderPrevious: envelope }),
  ackKey: object(['keyThumbprint'], { keyThumbprint: thumbprint }),
  runReport: {
    oneOf: [
      variant(['outcome', 'keyThumbprint', 'reencrypted'], { outcome: { const: 'run' }, keyThumbprint: thumbprint, reencrypted: { oneOf: [{ type: 'null' }, envelope] } }),
      variant(['outcome', 'reason'], { outcome: { const: 'failed' }, reason: { enum: ['noUsableKey', 'decryptionFailed'] } }),
    ],
  },
  reencryption: object(['connection', 'ciphertext'], { connection: name, ciphertext: envelope }),
  password: object(['packageThumbprint', 'passwordPackage'], { packageThumbprint: thumbprint, passwordPackage: base64(65_536) }),
};
