import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { manifestText } from '../../bench/manifest-repo.js';
import { parseManifestFile } from '../../operator/manifests/parse.js';
import { readYamlFast } from '../../operator/manifests/parse-fast.js';
import { decodeManifestText } from '../../operator/manifests/parse-text.js';
import { parseYamlText } from '../../operator/manifests/parse-yaml.js';
import { compareWithFull } from './parse-fast-helpers.js';

// The full reader, spied on, to see which path parseManifestFile took.
vi.mock('../../operator/manifests/parse-yaml.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../operator/manifests/parse-yaml.js')>();
  return { ...original, parseYamlText: vi.fn(original.parseYamlText) };
});

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'parse');

function fastValues(text: string): unknown[] | undefined {
  return readYamlFast(text)?.map((document) => document.value);
}

function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFilesUnder(path));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('readYamlFast: the subset it reads, with the full reader’s values', () => {
  const cases: [string, string, unknown][] = [
    [
      'block mappings and sequences, compact `- key:` nesting',
      'a:\n  b: 1\n  c:\n    - x\n    - k: v\n      l: w\n    -\n      m: z\n',
      { a: { b: 1, c: ['x', { k: 'v', l: 'w' }, { m: 'z' }] } },
    ],
    [
      'a sequence at the same indent as its parent key, then the next key',
      'containers:\n- name: a\n  ports:\n  - 80\n- name: b\nkind: Pod\n',
      { containers: [{ name: 'a', ports: [80] }, { name: 'b' }], kind: 'Pod' },
    ],
    [
      'go-yaml v2 scalars: YAML 1.1 booleans, octal, hex, underscores, no base 60',
      'a: yes\nb: off\nc: y\nd: 0755\ne: 0x1F\nf: 1_000\ng: 1:30\nh: ~\ni: 1e3\nj: .5\nk: yES\n',
      {
        a: true,
        b: false,
        c: true,
        d: 493,
        e: 31,
        f: 1000,
        g: '1:30',
        h: null,
        i: 1000,
        j: 0.5,
        k: 'yES',
      },
    ],
    [
      'non-string keys become field names as sigs.k8s.io/yaml writes them',
      '1: a\ntrue: b\n1.5: c\n1e6: d\n0x10: e\n.inf: f\n',
      { '1': 'a', true: 'b', '1.5': 'c', '1e+06': 'd', '16': 'e', '.inf': 'f' },
    ],
    [
      'quoted scalars: doubled single quotes, simple escapes, `#` and `: ` inside',
      `a: 'it''s'\nb: "say \\"hi\\"\\n\\tok \\\\"\nc: "# not a comment"\nd: 'a: b'\n"e f": ""\n`,
      { a: "it's", b: 'say "hi"\n\tok \\', c: '# not a comment', d: 'a: b', 'e f': '' },
    ],
    [
      'empty values are null; comments after values and on their own lines',
      'a:\nb: # nothing\n  # still nothing\nc: x # trailing\nd: x#y\n',
      { a: null, b: null, c: 'x', d: 'x#y' },
    ],
    [
      'one-line flow collections of scalars',
      'command: ["/bin/sh", "-c", \'echo hi\']\nargs: [--port, 8080, yes]\ne: []\nf: {}\ng: {a: 1, "b": x}\n',
      {
        command: ['/bin/sh', '-c', 'echo hi'],
        args: ['--port', 8080, true],
        e: [],
        f: {},
        g: { a: 1, b: 'x' },
      },
    ],
    [
      'literal block scalars `|` and `|-` (blank lines kept inside, trailing ones clipped)',
      'a: |\n  echo one\n\n    indented\n  echo two\n\n\nb: |- # script\n  x\nc:\n  - |\n    y\n',
      { a: 'echo one\n\n  indented\necho two\n', b: 'x', c: ['y\n'] },
    ],
    [
      'plain scalars starting with `-` and containing `:`, `#`, brackets',
      'a: --port=8080\nb: -1\nc: http://x:80/y\nd: a[0] {b}\ne: 日本語 😀\n',
      { a: '--port=8080', b: -1, c: 'http://x:80/y', d: 'a[0] {b}', e: '日本語 😀' },
    ],
    [
      'CRLF line ends',
      'a: 1\r\nb:\r\n  - x\r\nc: |\r\n  line\r\n',
      { a: 1, b: ['x'], c: 'line\n' },
    ],
  ];
  it.each(cases)('%s', (_name, text, expected) => {
    expect(fastValues(text)).toStrictEqual([expected]);
    expect(compareWithFull(text)).toBe('fast');
  });

  it('cuts documents at `---` lines as kubectl does and skips empty ones', () => {
    const text = '# head\n---\na: 1\n--- # second\n# only a comment\n---\n- x\n';
    expect(fastValues(text)).toStrictEqual([{ a: 1 }, ['x']]);
    expect(
      readYamlFast(text)?.map(({ line, column, start, end }) => [line, column, start, end]),
    ).toEqual([
      [3, 1, 11, 16],
      [7, 1, 50, 54],
    ]);
    expect(compareWithFull(text)).toBe('fast');
  });

  it('gives the origin of the first key or `-`, past comments and indentation', () => {
    const text = '# c\n\n  # c\n  a: 1\n  b: 2\n';
    expect(readYamlFast(text)?.[0]).toMatchObject({ line: 4, column: 3 });
    expect(compareWithFull(text)).toBe('fast');
  });
});

describe('readYamlFast steps aside outside its subset', () => {
  const cases: [string, string][] = [
    ['an anchor', 'a: &x 1\n'],
    ['an alias', 'a: *x\n'],
    ['a tag', 'a: !!str 1\n'],
    ['a tag on a key', '!t a: 1\n'],
    ['a folded block scalar', 'a: >\n  x\n'],
    ['a keep block scalar', 'a: |+\n  x\n'],
    ['an indentation indicator', 'a: |2\n   x\n'],
    ['an empty block scalar', 'a: |\nb: 1\n'],
    ['a block scalar with a more-indented blank line', 'a: |\n  x\n    \n  y\n'],
    ['a block scalar ending the file without a line break', 'a: |\n  x'],
    ['a multi-line plain scalar', 'a: b\n  c\n'],
    ['a plain scalar on the line after its key', 'a:\n  b\n'],
    ['a multi-line double-quoted scalar', 'a: "b\n  c"\n'],
    ['a multi-line single-quoted scalar', "a: 'b\n  c'\n"],
    ['an escape other than \\" \\\\ \\n \\t', 'a: "\\u0041"\n'],
    ['a flow collection spanning lines', 'a: [b,\n  c]\n'],
    ['a nested flow collection', 'a: [b, [c]]\n'],
    ['a flow mapping inside a flow sequence', 'a: [b: c]\n'],
    ['a trailing comma in a flow collection', 'a: [b,]\n'],
    ['a complex key', '? a\n: b\n'],
    ['a directive', '%YAML 1.1\n---\na: 1\n'],
    ['a document end marker', 'a: 1\n...\n'],
    ['a tab in the indentation', 'a:\n\tb: 1\n'],
    ['a tab anywhere', 'a: b\tc\n'],
    ['a lone carriage return', 'a: 1\rb: 2\n'],
    ['a BOM inside the text', 'a: \ufeff1\n'],
    ['a control character', 'a: \u00071\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['a duplicate key through resolution', '1: a\n"1": b\n'],
    ['a duplicate key in a flow mapping', 'a: {b: 1, b: 2}\n'],
    ['a merge key', 'a:\n  <<: {b: 1}\n'],
    ['a null key', '~: a\n'],
    ['a key beyond int64', '9223372036854775808: a\n'],
    ['a `__proto__` key', '__proto__: a\n'],
    ['an integer beyond 2^53', 'a: 9007199254740993\n'],
    ['an infinite float', 'a: .inf\n'],
    ['a NaN inside a flow sequence', 'a: [.nan]\n'],
    ['a nested mapping in a compact one', 'a: b: c\n'],
    ['a sequence item in a value', 'a: - b\n'],
    ['a sequence in a sequence on one line', '- - a\n'],
    ['a text after a quoted value', 'a: "b" c\n'],
    ['a comment not separated by a space', 'a: "b"#c\n'],
    ['a separator line with content', 'a: 1\n--- b\n'],
    ['a scalar document', 'just text\n'],
    ['a flow document', '{a: 1}\n'],
    ['a line indented more than its mapping', 'a: 1\n  b: 2\n'],
    ['a line at an indent no collection has', 'a:\n    b: 1\n  c: 2\n'],
    ['a key after a root sequence', '- a\nb: 1\n'],
    ['a key longer than YAML allows', `${'k'.repeat(1100)}: v\n`],
    [
      'nesting near the depth bound',
      `${Array.from({ length: 130 }, (_, i) => `${'  '.repeat(i)}a:`).join('\n')}\n`,
    ],
  ];
  it.each(cases)('on %s', (_reason, text) => {
    expect(readYamlFast(text)).toBeUndefined();
  });
});

describe('the fast path on real files', () => {
  it('agrees with the full reader on every parse fixture, or steps aside', () => {
    const taken: string[] = [];
    for (const name of readdirSync(FIXTURES)) {
      if (name.endsWith('.json')) continue;
      const decoded = decodeManifestText(name, new Uint8Array(readFileSync(join(FIXTURES, name))));
      if (!decoded.ok) continue;
      if (compareWithFull(decoded.text) === 'fast') taken.push(name);
    }
    // The plain fixtures are in the subset; the edge-case ones mostly are not.
    expect(taken).toEqual(
      expect.arrayContaining([
        'pod-positions.yaml',
        'non-string-keys.yaml',
        'yaml-1.1-booleans.yaml',
        'yaml-1.1-numbers.yaml',
        'utf8-bom.yaml',
      ]),
    );
    expect(taken).not.toContain('merge-keys.yaml');
    expect(taken).not.toContain('duplicate-key.yaml');
  });

  const shipped = ['examples', 'guestbook', 'wordpress'].flatMap((dir) =>
    yamlFilesUnder(join(ROOT, dir)).map((path) => relative(ROOT, path)),
  );

  it('finds the shipped manifests', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(20);
  });

  // Shipped files that use YAML anchors and aliases on purpose (one password, written once):
  // the fast path steps aside and the full reader expands them.
  const withAliases = new Set(['wordpress/wordpress.yaml']);

  it.each(shipped)('reads %s on the fast path, as the full reader does', (path) => {
    const text = readFileSync(join(ROOT, path), 'utf8');
    expect(compareWithFull(text)).toBe(withAliases.has(path) ? 'bail' : 'fast');
  });

  it("reads the bench's generated manifests on the fast path, as the full reader does", () => {
    for (let index = 0; index < 9; index++) {
      for (const generation of [0, 1, 12]) {
        expect(compareWithFull(manifestText(index, generation))).toBe('fast');
      }
    }
  });
});

describe('parseManifestFile with the fast path', () => {
  const fullReader = vi.mocked(parseYamlText);
  beforeEach(() => {
    fullReader.mockClear();
  });

  it('does not call the full reader for a file in the subset', () => {
    const parsed = parseManifestFile('bench.yaml', bytes(manifestText(0)));
    expect(fullReader).not.toHaveBeenCalled();
    expect(parsed.problems).toEqual([]);
    expect(parsed.documents).toHaveLength(1);
  });

  it('builds positions lazily from the full reader, exactly where the key is', () => {
    const text = [
      '# a pod', // 1
      'apiVersion: v1', // 2
      'kind: Pod', // 3
      'metadata:', // 4
      '  name: web', // 5
      'spec:', // 6
      '  containers:', // 7
      '  - name: web', // 8
      '    image: nginx', // 9
      '    ports:', // 10
      '      - containerPort: 80', // 11
    ].join('\n');
    const [document] = parseManifestFile('site/pod.yaml', bytes(text)).documents;
    expect(fullReader).not.toHaveBeenCalled();
    expect(document?.origin).toEqual({ file: 'site/pod.yaml', line: 2, column: 1 });
    expect(document?.locate(['spec', 'containers', 0, 'image'])).toEqual({
      file: 'site/pod.yaml',
      line: 9,
      column: 5,
    });
    expect(document?.locate(['spec', 'containers', 0, 'ports', 0])).toEqual({
      file: 'site/pod.yaml',
      line: 11,
      column: 9,
    });
    expect(document?.locate(['spec', 'missing', 'deeper'])).toEqual({
      file: 'site/pod.yaml',
      line: 6,
      column: 1,
    });
  });

  it('leaves files outside the subset, and every problem, to the full reader', () => {
    const parsed = parseManifestFile('two.yaml', bytes('a: 1\n---\nb: 1\nb: 2\n'));
    expect(fullReader).toHaveBeenCalledTimes(1);
    expect(parsed.documents.map((document) => document.value)).toEqual([{ a: 1 }]);
    expect(parsed.problems.map((problem) => [problem.code, problem.origin.line])).toEqual([
      ['yaml.duplicate-key', 4],
    ]);
  });

  it('keeps a `__proto__` key as a plain field through the full reader', () => {
    const parsed = parseManifestFile('proto.yaml', bytes('__proto__: x\n'));
    expect(fullReader).toHaveBeenCalledTimes(1);
    const value = parsed.documents[0]?.value as Record<string, unknown>;
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it('does not try the fast path on JSON files', () => {
    const parsed = parseManifestFile('pod.json', bytes('{"a": 1, "a": 2}'));
    expect(parsed.problems.map((problem) => problem.code)).toEqual(['json.duplicate-key']);
  });
});
