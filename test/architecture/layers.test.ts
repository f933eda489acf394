/**
 * The layers of docs/architecture.md point one way. This test reads every import of src/ and
 * projections/ (static, dynamic and re-exports) and fails on an arrow the table below does not allow,
 * so that a convenient import cannot quietly make the pure domain depend on a store, or a store on
 * the domain's rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = normalize(join(import.meta.dirname, '..', '..'));

/** For each layer, the layers it may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  'src/kernel': [],
  'src/domain': ['src/kernel'],
  'src/crypto': ['src/kernel'],
  'src/store': ['src/kernel'],
  'src/query': ['src/kernel'],
  'src/engine': ['src/kernel', 'src/domain', 'src/crypto', 'src/store'],
  projections: ['src/kernel', 'src/domain', 'src/store', 'src/query'],
  'src/simulation': ['src/kernel', 'src/domain', 'src/crypto', 'src/store', 'src/engine', 'projections'],
  'src/readiness': ['src/kernel', 'src/domain', 'src/store', 'src/engine', 'projections'],
  'src/remote': ['src/kernel', 'src/domain', 'src/crypto', 'src/store', 'src/engine', 'projections'],
  'src/fleet': ['src/kernel', 'src/domain', 'src/crypto', 'src/store', 'src/engine', 'projections', 'src/query', 'src/simulation', 'src/readiness'],
  'src/explain': ['src/kernel', 'src/domain', 'src/store', 'src/engine', 'projections', 'src/readiness'],
  'src/plan': ['src/kernel', 'src/domain', 'src/store', 'src/engine', 'src/readiness', 'src/explain'],
  'src/admin': ['src/kernel', 'src/domain', 'src/crypto', 'src/store', 'src/engine', 'projections', 'src/readiness', 'src/fleet', 'src/remote', 'src/explain', 'src/plan'],
  'src/api': ['src/kernel', 'src/domain', 'src/crypto', 'src/store', 'src/engine', 'projections', 'src/query', 'src/simulation', 'src/readiness', 'src/fleet', 'src/remote', 'src/explain', 'src/plan', 'src/admin'],
};
/** Programs at the top (the CLI, the demo) may import any layer; nothing may import them. */
const PROGRAMS = ['src/cli', 'src/demo'];
/** Packages the pure layers may use: no I/O, no clock, no randomness in any of them. */
const PURE_PACKAGES: Record<string, readonly string[]> = { 'src/kernel': [], 'src/domain': ['luxon'] };

interface Import { readonly file: string; readonly specifier: string }

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: Import[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm)) found.push({ file, specifier: match[1]! });
  return found;
}

function layerOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'src') return `src/${parts[1]!.replace(/\.ts$/, '')}`;
  return parts[0]!;
}

function resolved(from: string, specifier: string): string {
  return normalize(join(dirname(from), specifier)).split(sep).join('/');
}

const files = [...sourceFiles('src'), ...sourceFiles('projections')];
const imports = files.flatMap(importsOf);

describe('layers point one way (docs/architecture.md)', () => {
  it('every file of src/ and projections/ belongs to a known layer or program', () => {
    const unknown = [...new Set(files.map(layerOf))].filter((layer) => !(layer in ALLOWED) && !PROGRAMS.includes(layer));
    expect(unknown).toEqual([]);
  });

  it('no import crosses a layer boundary that the table does not allow', () => {
    const wrong = imports
      .filter((entry) => entry.specifier.startsWith('.'))
      .map((entry) => ({ ...entry, from: layerOf(entry.file), to: layerOf(resolved(entry.file, entry.specifier)) }))
      .filter(({ from, to }) => from !== to && !PROGRAMS.includes(from) && !(ALLOWED[from] ?? []).includes(to))
      .map(({ file, specifier, to }) => `${file} imports ${specifier} (layer ${to})`);
    expect(wrong).toEqual([]);
  });

  it('the kernel and the domain use no package that does I/O (only node:-free, clock-free ones)', () => {
    const wrong = imports
      .filter((entry) => !entry.specifier.startsWith('.'))
      .filter((entry) => layerOf(entry.file) in PURE_PACKAGES && !PURE_PACKAGES[layerOf(entry.file)]!.includes(entry.specifier))
      .map((entry) => `${entry.file} imports ${entry.specifier}`);
    expect(wrong).toEqual([]);
  });

  it('the kernel and the domain read no clock and draw no randomness (time and ids are injected)', () => {
    const wrong = files
      .filter((file) => layerOf(file) in PURE_PACKAGES)
      .flatMap((file) => [...readFileSync(join(ROOT, file), 'utf8').matchAll(/Date\.now\(|Math\.random\(|new Date\(\)|performance\.now\(|randomUUID\(|randomBytes\(/g)].map((match) => `${file}: ${match[0]}`));
    expect(wrong).toEqual([]);
  });

  it('the check itself sees imports: it finds the arrows that exist', () => {
    // A regression guard on the parser above: if it stopped matching, every test here would pass vacuously.
    const arrows = new Set(imports.filter((entry) => entry.specifier.startsWith('.')).map((entry) => `${layerOf(entry.file)}->${layerOf(resolved(entry.file, entry.specifier))}`));
    expect(arrows).toContain('src/engine->src/domain');
    expect(arrows).toContain('src/domain->src/kernel');
    expect(arrows).toContain('projections->src/store');
    expect(imports.length).toBeGreaterThan(300);
  });
});
