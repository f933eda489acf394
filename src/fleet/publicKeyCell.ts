/**
 * `primarypublickey` and `secondarypublickey` as an export holds them. Dataverse documents both as
 * "Internal Use Only" Memo columns of up to 25,000 characters (flowmachinegroup table reference),
 * so an export may hold a thumbprint, a whole certificate (PEM, or base64 DER as .NET writes
 * `X509Certificate.GetRawCertData()`), or a public key. rekey names a key by its thumbprint: the
 * SHA-256 of the certificate's DER, as rekey's own tables show it; a certificate also gives the
 * key's dates. A bare public key is named by the SHA-256 of its SubjectPublicKeyInfo DER. Since
 * Microsoft does not document the column's format, any other text is the key's name as it stands
 * (when short and without spaces), or the SHA-256 of the text: the forecast needs a key's identity
 * and dates, never its bits.
 */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import { thumbprintOfDer } from '../crypto/certificates.js';

/** Dataverse's MaxLength of primarypublickey and secondarypublickey. */
export const MAX_PUBLIC_KEY_CHARACTERS = 25_000;

export type PublicKeyCell =
  | {
    readonly ok: true;
    readonly thumbprint: string;
    readonly from: 'thumbprint' | 'certificate' | 'public key' | 'text';
    /** A certificate's validity, in epoch milliseconds. */
    readonly notBefore?: number;
    readonly notAfter?: number;
  }
  | { readonly ok: false; readonly reason: string };

const EXPECTED = 'a thumbprint (40 or 64 hex digits), a certificate (PEM or base64 DER) or a public key (PEM or base64 DER)';

export function readPublicKeyCell(text: string): PublicKeyCell {
  if (text.length > MAX_PUBLIC_KEY_CHARACTERS) {
    return { ok: false, reason: `holds ${text.length} characters; Dataverse stores at most ${MAX_PUBLIC_KEY_CHARACTERS}; expected ${EXPECTED}` };
  }
  const t = text.trim();
  const hex = t.replace(/[\s:]/g, '');
  if (/^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/.test(hex)) return { ok: true, thumbprint: hex.toUpperCase(), from: 'thumbprint' };
  const pem = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(t);
  const base64 = pem ? pem[2]!.replace(/\s/g, '') : t.replace(/\s/g, '');
  const der = /^[A-Za-z0-9+/]+={0,2}$/.test(base64) && base64.length % 4 === 0 ? Buffer.from(base64, 'base64') : undefined;
  if (der !== undefined && der[0] === 0x30) {
    if (!pem || pem[1] === 'CERTIFICATE') {
      try {
        const certificate = new X509Certificate(der);
        return { ok: true, thumbprint: thumbprintOfDer(certificate.raw), from: 'certificate', notBefore: Date.parse(certificate.validFrom), notAfter: Date.parse(certificate.validTo) };
      } catch {
        // not a certificate: a public key, or text
      }
    }
    try {
      const spki = createPublicKey({ key: der, format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
      return { ok: true, thumbprint: thumbprintOfDer(spki), from: 'public key' };
    } catch {
      // text
    }
  }
  if (pem) return { ok: false, reason: `holds a PEM ${pem[1]!.toLowerCase()} that does not parse; expected ${EXPECTED}` };
  if (t === '') return { ok: false, reason: `is blank; expected ${EXPECTED}` };
  if (t.length <= 128 && /^[\x21-\x7e]+$/.test(t)) return { ok: true, thumbprint: t, from: 'text' };
  return { ok: true, thumbprint: createHash('sha256').update(t).digest('hex').toUpperCase(), from: 'text' };
}
