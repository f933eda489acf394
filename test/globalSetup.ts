/**
 * Runs once around the whole test run.
 * - Builds dist/ before the suites run: the CLI, reliability and agent tests run the built `rekey`
 *   binary as a child process, as users do, and must never test a stale build.
 * - Gives the run a temporary folder of its own (TMPDIR for the test workers and every child process
 *   they start) and removes it at the end, so that a run leaves nothing behind in the system's temp
 *   directory, even when a test or a killed child process did not clean up after itself.
 * - The build is skipped when dist/ is the build of the sources as they are
 *   (scripts/build-if-stale.mjs: any change to a source, a tsconfig or the TypeScript version compiles again).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  execFileSync(process.execPath, ['scripts/build-if-stale.mjs', '--project', 'tsconfig.build.json'], { stdio: 'inherit' });
  const runFolder = mkdtempSync(join(tmpdir(), 'rekey-test-run-'));
  process.env.TMPDIR = runFolder;
  return () => rmSync(runFolder, { recursive: true, force: true, maxRetries: 3 });
}
