/**
 * A real full disk for tests: a small tmpfs mounted for the test (mounting needs root, as CI runs;
 * elsewhere the caller reports the test as skipped, with the reason), and a filler that takes every
 * free byte of it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';

const mounted: string[] = [];

/** Mounts a fresh tmpfs of `size` at `dir` (created), or says why there cannot be one here. */
export function smallDisk(dir: string, size: string): { dir: string } | { skip: string } {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    return { skip: `cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]}); run as root, as CI does` };
  }
  mounted.push(dir);
  return { dir };
}

/** Unmounts every disk `smallDisk` mounted (for afterAll). */
export function unmountSmallDisks(): void {
  for (const dir of mounted.splice(0)) execFileSync('umount', [dir]);
}

/** Writes until the file system says ENOSPC, in big chunks and then in small ones: every byte taken. */
export function fill(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}
