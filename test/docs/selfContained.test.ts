/**
 * A clone of the repository explains itself: nothing a user reads (README, docs, help texts, error
 * messages, examples) and nothing a contributor reads (sources, tests, scripts) points outside the
 * repository, every relative link in the Markdown resolves to a file inside it, and the scenarios
 * that docs/scenarios.md shows are files `rekey simulate` accepts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/simulation/loader.js';

const ROOT = normalize(join(import.meta.dirname, '..', '..'));
const CLI = join(ROOT, 'dist/src/cli/main.js');

/** What pointed outside: the design notes and the source document kept beside the repository. */
const OUTSIDE = new RegExp(['DESIGN\\.md', 'DESIGN section', '\\.\\./shared\\b', 'shared/(seed|DESIGN|STYLE)'].join('|'));
const SCANNED = ['README.md', 'package.json', 'docker-compose.yml', 'Dockerfile', '.ci', 'docs', 'examples', 'src', 'projections', 'bench', 'scripts', 'test'];
const TEXT = /\.(ts|mts|mjs|js|json|md|yml|yaml|html|css|txt|csv)$|^(Dockerfile|run)$/;
const THIS_FILE = relative(ROOT, import.meta.filename);

function filesUnder(path: string): string[] {
  const full = join(ROOT, path);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full).flatMap((name) => filesUnder(join(path, name)));
}

const files = SCANNED.flatMap(filesUnder).filter((file) => TEXT.test(file.split('/').pop()!) && file !== THIS_FILE);

function outsideReferences(text: string, where: string): string[] {
  return text.split('\n').flatMap((line, i) => (OUTSIDE.test(line) ? [`${where}:${i + 1}: ${line.trim().slice(0, 160)}`] : []));
}

describe('the repository explains itself', () => {
  it('no file of README, docs, examples, sources, tests or scripts points outside the repository', () => {
    expect(files.length).toBeGreaterThan(200);
    expect(files.flatMap((file) => outsideReferences(readFileSync(join(ROOT, file), 'utf8'), file))).toEqual([]);
  });

  it('the scan would see such a reference (a guard against a pattern that matches nothing)', () => {
    expect(outsideReferences('see ../shared/' + 'DESIGN.md section 6', 'x')).toHaveLength(1);
    expect(outsideReferences('the scenario format is in docs/scenarios.md', 'x')).toEqual([]);
  });

  it('no help text of any command points outside the repository', async () => {
    const help = async (args: string[]) => (await promisify(execFile)(process.execPath, [CLI, ...args], { encoding: 'utf8' })).stdout;
    const top = await help(['--help']);
    const commands = [...top.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((match) => match[1]!).filter((name) => name !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['simulate', 'query', 'history', 'verify', 'serve', 'import']));
    const texts = [top, ...(await Promise.all(commands.map((command) => help([command, '--help']))))];
    expect(texts.flatMap((text, i) => outsideReferences(text, i === 0 ? 'rekey --help' : `rekey ${commands[i - 1]} --help`))).toEqual([]);
  });

  it('every relative link in README and docs resolves to a file inside the repository', () => {
    const broken: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.md') && (f === 'README.md' || f.startsWith('docs/')))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target!)) continue;
        const path = resolve(ROOT, dirname(file), target!.split('#')[0]!);
        if (!path.startsWith(ROOT + '/') || !existsSync(path)) broken.push(`${file}: (${target})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every scenario docs/scenarios.md shows is a file the loader accepts', () => {
    const text = readFileSync(join(ROOT, 'docs/scenarios.md'), 'utf8');
    const scenarios = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => JSON.parse(match[1]!) as Record<string, unknown>).filter((json) => 'start' in json);
    expect(scenarios.length).toBeGreaterThanOrEqual(2);
    for (const scenario of scenarios) expect(() => loadScenario(scenario)).not.toThrow();
  });
});
