// Runs before `npm start`, `npm run demo` and `npm run bench`: compiles TypeScript into dist/ only
// when dist/ is not the build of the sources as they are now, so a warm start skips the 10-20 s of
// `tsc`. "As they are now" is a fingerprint of every input of the build: the path, size and mtime of
// each file under the project's `include` folders, the tsconfig files and the TypeScript version.
// A fresh clone (no dist/, no fingerprint), any edited, added or deleted source, a `git checkout`
// (new mtimes) or a failed build (no fingerprint written) all rebuild.
//
// Usage: node scripts/build-if-stale.mjs [--project tsconfig.build.json] [--check]
// (from the project folder). --check only tells: exit 0 when dist/ is current, 1 when it is not.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const projectIndex = args.indexOf('--project');
const project = resolve(projectIndex >= 0 ? args[projectIndex + 1] ?? '' : 'tsconfig.build.json');
const root = dirname(project);

/** The tsconfig chain (the project and what it extends), and its `include` and `outDir`. */
function readConfig(file) {
  const chain = [];
  let include;
  let outDir;
  for (let current = file; current !== undefined;) {
    const config = JSON.parse(readFileSync(current, 'utf8'));
    chain.push(current);
    include ??= config.include;
    outDir ??= config.compilerOptions?.outDir && resolve(dirname(current), config.compilerOptions.outDir);
    current = config.extends ? resolve(dirname(current), config.extends) : undefined;
  }
  return { chain, include: include ?? ['.'], outDir: outDir ?? root };
}

function* walk(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

const { chain, include, outDir } = readConfig(project);
const stampFile = join(outDir, '.build-fingerprint');
const require = createRequire(join(root, 'package.json'));
const typescript = require.resolve('typescript/package.json');

const fingerprint = createHash('sha256');
for (const file of [...chain, typescript]) {
  const { size, mtimeMs } = statSync(file);
  fingerprint.update(`${relative(root, file)}\0${size}\0${mtimeMs}\n`);
}
let files = 0;
for (const folder of include) {
  for (const file of walk(resolve(root, folder))) {
    if (file.startsWith(outDir + '/')) continue;
    const { size, mtimeMs } = statSync(file);
    fingerprint.update(`${relative(root, file)}\0${size}\0${mtimeMs}\n`);
    files++;
  }
}
const current = fingerprint.digest('hex');
const isCurrent = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === current;
const out = relative(root, outDir) || '.';

if (args.includes('--check')) {
  process.stderr.write(isCurrent
    ? `rekey: ${out}/ is current (${files} source files unchanged)\n`
    : `rekey: ${out}/ is stale: ${existsSync(stampFile) ? 'the sources changed since its build' : 'never built by this script, or its last build failed'}\n`);
  process.exit(isCurrent ? 0 : 1);
}
if (isCurrent) {
  process.stderr.write(`rekey: ${out}/ is current (${files} source files unchanged), skipping tsc\n`);
} else {
  process.stderr.write(`rekey: compiling TypeScript into ${out}/ (${files} source files)\n`);
  const result = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(stampFile, current);
}
