#!/usr/bin/env node
/**
 * A ready entry point for `npm start` (`node dist/src/api/start.js`): the dashboard on the embedded
 * store (./data/rekey.db, or $REKEY_DB), with the bundled sample fleet loaded into an empty store
 * first. Prints the URL; SIGINT or SIGTERM close it cleanly.
 */
import { startDashboard } from './startDashboard.js';

try {
  const server = await startDashboard({});
  const stop = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    void server.close().then(() => process.stderr.write('rekey: dashboard stopped\n'));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stderr.write(`rekey: dashboard at ${server.url}/ ; Ctrl+C stops\n`);
} catch (error) {
  const code = (error as { code?: unknown }).code;
  process.stderr.write(`rekey: ${typeof code === 'string' ? `${code}: ` : ''}${error instanceof Error ? error.message : String(error)}\n`);
  // PORT_IN_USE and other input to fix exit 2, as the rekey command does.
  const exit = (error as { exitCode?: unknown }).exitCode;
  process.exitCode = typeof exit === 'number' ? exit : 1;
}
