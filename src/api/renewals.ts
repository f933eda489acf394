/** When each renewal under way started (its RenewalStarted), which a group's row stops showing once the new key exists (R22). */
import { groupStream } from '../domain/streams.js';
import type { EventStore } from '../store/port.js';
import type { TablesSnapshot } from './context.js';

export async function renewalStarts(store: EventStore, snapshot: TablesSnapshot): Promise<Map<string, string>> {
  const starts = new Map<string, string>();
  for (const group of snapshot.tables.flowmachinegroups) {
    if (group.rekey_renewalstate !== 'Renewing') continue;
    const id = String(group.flowmachinegroupid);
    const events = await store.readStream(groupStream(id));
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i]!;
      if (event.position > snapshot.position || event.type !== 'RenewalStarted') continue;
      starts.set(id, String((event.data as { startsAt?: unknown }).startsAt ?? event.metadata.occurredAt));
      break;
    }
  }
  return starts;
}
