/**
 * Ids of the streams that named things (machine groups, connections) are created in: derived from
 * the name and from how many of that name the log has already seen (its incarnation), never drawn
 * at random. Every process that reads the same log therefore picks the same new stream for the
 * same creation, and the store's expected revision -1 lets exactly one of them create it: a second
 * server racing the same `createGroup` finds the stream taken, catches up and sees the group (or
 * its own command id) instead of recording the name a second time. A deleted name used again is a
 * new incarnation, so it gets a new id, as before.
 *
 * The id has the shape of a name-based UUID (RFC 9562 version 5 layout, SHA-256 instead of SHA-1),
 * as Dataverse ids are GUIDs.
 */
import { createHash } from 'node:crypto';

export type NamedKind = 'group' | 'connection';

export function nameBasedId(kind: NamedKind, name: string, incarnation: number): string {
  const hex = createHash('sha256').update(`rekey ${kind}\0${incarnation}\0${name}`, 'utf8').digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
