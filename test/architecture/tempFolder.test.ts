/**
 * A test run leaves nothing in the system's temp directory: globalSetup gives the run a folder of its
 * own as TMPDIR and removes it at the end. This checks that the test workers and the child processes
 * they start really write there.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the test run\'s temporary folder', () => {
  it('test workers make their temp folders inside the run\'s folder, which globalSetup removes at the end', () => {
    expect(basename(tmpdir())).toMatch(/^rekey-test-run-/);
    const made = mkdtempSync(join(tmpdir(), 'rekey-probe-'));
    expect(dirname(made)).toBe(tmpdir());
  });

  it('child processes inherit it', () => {
    const childTmp = execFileSync(process.execPath, ['-e', 'process.stdout.write(require("node:os").tmpdir())'], { encoding: 'utf8' });
    expect(childTmp).toBe(tmpdir());
  });
});
