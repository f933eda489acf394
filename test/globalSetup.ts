/**
 * Builds dist/ before the suites run: the CLI, reliability and agent tests run the built `rekey`
 * binary as a child process, as users do, and must never test a stale build. The build is skipped
 * when dist/ is the build of the sources as they are (scripts/build-if-stale.mjs, which any change
 * to a source, a tsconfig or the TypeScript version makes compile again).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-if-stale.mjs', '--project', 'tsconfig.build.json'], { stdio: 'inherit' });
}
