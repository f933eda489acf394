/** Commands that read the tables open the store and its read model (`<db>.read.db` beside SQLite). */
import { openReadModel, type ReadModel } from '../../projections/index.js';
import type { EventStore } from '../store/port.js';
import { openStore, type StoreOptions } from './storeOptions.js';

export async function withReadModel<T>(options: StoreOptions, use: (readModel: ReadModel, store: EventStore) => Promise<T>): Promise<T> {
  const store = await openStore(options, { mustExist: true });
  try {
    const readModel = openReadModel({ store });
    try {
      return await use(readModel, store);
    } finally {
      await readModel.close();
    }
  } finally {
    await store.close();
  }
}
