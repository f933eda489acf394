import { createInMemoryEventStore } from '../../src/store/memory.js';
import { runEventStoreContract } from './contract.js';

runEventStoreContract('memory', async () => createInMemoryEventStore());
