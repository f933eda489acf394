/**
 * Builds dist/ once before the suites run: the CLI, reliability and agent tests run the built
 * `rekey` binary as a child process, as users do, and must never test a stale build.
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
