/**
 * Where a change-feed client stands, and the SSE `id:` that says so. Events make zero or more row
 * changes each, so a change is named by its log position and its index among the changes that event
 * made (0-based, counted over every table before any client's filter, so the same change has the
 * same id on every connection and every server of the store):
 *
 * - `P-I`: change I of the event at position P (sent with each change);
 * - `P`: everything up to and including position P (sent with `ready`).
 *
 * Ids are totally ordered by (P, I), with `P` after every `P-I`. A client that reconnects with
 * `Last-Event-ID` gets exactly the changes after it.
 */
import { invalid } from '../errors.js';

export interface Cursor {
  readonly position: number;
  /** The last change seen at `position`; Infinity when the whole position was seen. */
  readonly index: number;
}

export const cursorId = (cursor: Cursor): string => (cursor.index === Infinity ? String(cursor.position) : `${cursor.position}-${cursor.index}`);

/** Whether the change (position, index) comes after the cursor. */
export const isAfter = (cursor: Cursor, position: number, index: number): boolean =>
  position > cursor.position || (position === cursor.position && index > cursor.index);

/** The cursor of a `Last-Event-ID` header; a value of any other shape is a 400 that names both forms. */
export function parseEventId(text: string): Cursor {
  const match = /^(\d{1,15})(?:-(\d{1,9}))?$/.exec(text.trim());
  if (!match) {
    throw invalid(`Last-Event-ID ${JSON.stringify(text.slice(0, 40))} is not an id this feed sent: expected P (a log position) or P-I (change I of position P)`, { header: 'last-event-id' });
  }
  return { position: Number(match[1]), index: match[2] === undefined ? Infinity : Number(match[2]) };
}
