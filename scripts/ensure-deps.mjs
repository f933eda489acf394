// Runs before `npm start` and `npm test`: on a fresh clone (no node_modules yet) it installs exactly
// what package-lock.json says with `npm ci`, so the README's two commands work with nothing else.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

if (!existsSync(new URL('../node_modules/.package-lock.json', import.meta.url))) {
  process.stderr.write('rekey: first run on this clone: installing dependencies with npm ci\n');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit', cwd: new URL('..', import.meta.url) });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
