/**
 * The bytes of an export file as text. Excel and Dataverse write several encodings: "CSV UTF-8"
 * (with a byte order mark), plain "CSV" (the Windows code page, windows-1252 in the West), and
 * "Unicode Text" (UTF-16LE with a BOM, tab-separated). The BOM decides when there is one; without
 * one, UTF-16 is recognised by its zero bytes (ASCII text in UTF-16 has one in every pair), then
 * strict UTF-8 is tried, and text that is not UTF-8 is read as windows-1252.
 */

export type TextEncoding = 'utf-8' | 'utf-8 with BOM' | 'utf-16le' | 'utf-16be' | 'windows-1252';

export interface DecodedText {
  readonly text: string;
  readonly encoding: TextEncoding;
}

export function decodeExportBytes(bytes: Uint8Array): DecodedText {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { text: utf8(bytes.subarray(3)) ?? latin(bytes.subarray(3)), encoding: 'utf-8 with BOM' };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder('utf-16le').decode(bytes.subarray(2)), encoding: 'utf-16le' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder('utf-16be').decode(bytes.subarray(2)), encoding: 'utf-16be' };
  const zeros = zeroBytes(bytes);
  if (zeros.odd > 0 && zeros.odd >= zeros.pairs / 2 && zeros.even === 0) return { text: new TextDecoder('utf-16le').decode(bytes), encoding: 'utf-16le' };
  if (zeros.even > 0 && zeros.even >= zeros.pairs / 2 && zeros.odd === 0) return { text: new TextDecoder('utf-16be').decode(bytes), encoding: 'utf-16be' };
  const text = utf8(bytes);
  return text === undefined ? { text: latin(bytes), encoding: 'windows-1252' } : { text, encoding: 'utf-8' };
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function latin(bytes: Uint8Array): string {
  return new TextDecoder('windows-1252').decode(bytes);
}

/** Zero bytes at even and odd offsets among the first 4,096 bytes. */
function zeroBytes(bytes: Uint8Array): { even: number; odd: number; pairs: number } {
  const end = Math.min(bytes.length, 4096);
  let even = 0;
  let odd = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 0) i % 2 === 0 ? even++ : odd++;
  return { even, odd, pairs: Math.floor(end / 2) };
}
