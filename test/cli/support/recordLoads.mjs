// Preloaded with `node --import`: records every module URL the program loads (ESM and CommonJS
// packages alike pass through the ESM loader's load hook) into $REKEY_TEST_LOADS on exit.
import { register } from 'node:module';
import { appendFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
const loaded = [];
port1.on('message', (url) => loaded.push(url));
port1.unref();
register(new URL('./recordLoadsHook.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] });
process.on('exit', () => appendFileSync(process.env.REKEY_TEST_LOADS, `${loaded.join('\n')}\n`));
