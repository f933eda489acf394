/** Temporary directories of the reliability tests: `rekey-reliability-<name>-*`, removed after each file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

export function scratchDir(name: string, options: { keep?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), `rekey-reliability-${name}-`));
  if (!options.keep) made.push(dir);
  return dir;
}

/** For `afterAll`: removes every directory `scratchDir` made (not those it was told to keep). */
export function removeScratchDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
