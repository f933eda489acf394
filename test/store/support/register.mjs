// `node --import ./test/store/support/register.mjs script.ts`: runs a TypeScript file of this repo
// in a plain Node process (Node 20 cannot strip types itself), for tests that need a second process.
import { register } from 'node:module';

register('./tsHooks.mjs', import.meta.url);
