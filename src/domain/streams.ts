/**
 * Stream names. A group's stream is its consistency boundary (membership, keys, renewal); each
 * connection and each lone machine has its own. Ids, not names, so that a deleted group's name can
 * be used again by a new group.
 */
export type StreamKind = 'group' | 'connection' | 'machine';

export const groupStream = (groupId: string) => `group-${groupId}`;
export const connectionStream = (connectionId: string) => `connection-${connectionId}`;
export const machineStream = (machineId: string) => `machine-${machineId}`;

export function streamKind(stream: string): StreamKind | null {
  if (stream.startsWith('group-')) return 'group';
  if (stream.startsWith('connection-')) return 'connection';
  if (stream.startsWith('machine-')) return 'machine';
  return null;
}
