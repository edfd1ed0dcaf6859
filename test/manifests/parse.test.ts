import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../operator/manifests/parse.js';
import type { ParsedFile, ParseLimits } from '../../operator/manifests/types.js';
import type { Problem } from '../../operator/model/problem.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'parse');

function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}

function parseFixture(name: string, limits?: Partial<ParseLimits>): ParsedFile {
  return parseManifestFile(name, fixtureBytes(name), limits);
}

function parseText(name: string, text: string, limits?: Partial<ParseLimits>): ParsedFile {
  return parseManifestFile(name, new TextEncoder().encode(text), limits);
}

/** `code line:col field`, the parts of a problem tests pin exactly. */
function where(problem: Problem): string {
  const { line, column } = problem.origin;
  return `${problem.code} ${line}:${column}${problem.field === undefined ? '' : ` ${problem.field}`}`;
}

function values(parsed: ParsedFile): unknown[] {
  return parsed.documents.map((document) => document.value);
}

describe('parseManifestFile: YAML read as Kubernetes reads it', () => {
  it('reads YAML 1.1 booleans as booleans, as kubectl does (env values then fail the schema)', () => {
    const parsed = parseFixture('yaml-1.1-booleans.yaml');
    expect(parsed.problems).toEqual([]);
    const env = (values(parsed)[0] as { spec: { containers: { env: unknown[] }[] } }).spec
      .containers[0]?.env;
    expect(env).toEqual([
      { name: 'ENABLED', value: true },
      { name: 'DISABLED', value: false },
      { name: 'SHORT', value: true },
      { name: 'QUOTED', value: 'yes' },
      { name: 'NOT_A_WORD', value: 'yES' },
    ]);
  });

  it('reads numbers as go-yaml v2 does: octal 0755, 0o17, hex, binary, underscores; no base 60', () => {
    const parsed = parseFixture('yaml-1.1-numbers.yaml');
    expect(parsed.problems).toEqual([]);
    expect(values(parsed)).toEqual([
      {
        octal: 493,
        octal_12: 15,
        hex: 31,
        binary: 5,
        underscores: 1_000_000,
        float: 1000,
        dot_float: 0.5,
        leading_zero_nine: 9,
        plus: 12,
        minus_zero: 0,
        sexagesimal: '190:20:30',
        date: '2001-12-14',
        version: 1.1,
      },
    ]);
  });

  it('applies merge keys: explicit keys win, earlier sources win, a quoted "<<" is a plain key', () => {
    const parsed = parseFixture('merge-keys.yaml');
    expect(parsed.problems).toEqual([]);
    expect(values(parsed)).toEqual([
      {
        defaults: { image: 'nginx', imagePullPolicy: 'IfNotPresent' },
        web: { name: 'web', image: 'nginx:1.25', imagePullPolicy: 'IfNotPresent' },
        many: { image: 'nginx', imagePullPolicy: 'IfNotPresent', name: 'first' },
        inline: { name: 'inline', port: 80 },
        quoted: { '<<': 'not a merge' },
      },
    ]);
  });

  it('turns non-string keys into JSON field names as sigs.k8s.io/yaml does', () => {
    const parsed = parseFixture('non-string-keys.yaml');
    expect(parsed.problems).toEqual([]);
    expect(values(parsed)).toEqual([
      {
        labels: {
          '1': 'one',
          true: 'yes-key',
          '1.5': 'one-and-a-half',
          '1e+06': 'million',
          '16': 'sixteen',
          '.inf': 'infinite',
        },
      },
    ]);
  });

  it('refuses keys with no JSON form: null keys and mappings or sequences as keys', () => {
    expect(parseFixture('null-key.yaml').problems.map(where)).toEqual(['yaml.key 2:3 labels']);
    const collection = parseFixture('collection-key.yaml');
    expect(collection.problems.map(where)).toEqual(['yaml.key 2:5 labels']);
    expect(collection.problems[0]?.message).toContain('cannot be a key');
    expect(collection.documents).toEqual([]);
  });

  it('reports a key that appears twice after conversion ("1" and 1) as a duplicate', () => {
    const parsed = parseText('keys.yaml', 'labels:\n  1: a\n  "1": b\n');
    expect(parsed.problems.map(where)).toEqual(['yaml.duplicate-key 3:3 labels.1']);
  });

  it('keeps __proto__ as an ordinary field', () => {
    const parsed = parseText('proto.yaml', '__proto__: {polluted: 1}\nkind: Pod\n');
    const value = values(parsed)[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'kind']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseManifestFile: problems with exact positions', () => {
  it('names a duplicate key and the line of the first one', () => {
    const parsed = parseFixture('duplicate-key.yaml');
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual(['yaml.duplicate-key 7:3 metadata.name']);
    expect(parsed.problems[0]?.message).toBe(
      'duplicate key "name": it is already defined at line 4',
    );
  });

  it('refuses custom tags with a clear message, accepts core tags go-yaml accepts', () => {
    const custom = parseFixture('custom-tag.yaml');
    expect(custom.problems.map(where)).toEqual(['yaml.tag 4:14 metadata.name']);
    expect(custom.problems[0]?.message).toBe(
      'custom tag "!env" is not supported: Kubernetes reads plain YAML; remove the tag',
    );
    const core = parseFixture('core-tags.yaml');
    expect(core.problems.map(where)).toEqual(['yaml.tag 6:16 bad_int', 'yaml.tag 7:12 set']);
    expect(core.problems.map((problem) => problem.message)).toEqual([
      '"twelve" is not a valid !!int value',
      'the !!set tag is not supported in Kubernetes manifests; remove it',
    ]);
  });

  it('decodes core tags like go-yaml when the document has no problems', () => {
    const parsed = parseText(
      'tags.yaml',
      'binary: !!binary aGVsbG8gd29ybGQ=\nint: !!int "12"\nfloat: !!float 3\nstr: !!str 80\nplain: ! 12\n',
    );
    expect(parsed.problems).toEqual([]);
    expect(values(parsed)).toEqual([
      { binary: 'hello world', int: 12, float: 3, str: '80', plain: '12' },
    ]);
  });

  it('refuses .inf and .nan (JSON cannot hold them), naming the field', () => {
    const parsed = parseFixture('infinity-and-nan.yaml');
    expect(parsed.problems.map(where)).toEqual([
      'number.unrepresentable 2:10 spec.ratio',
      'number.unrepresentable 3:10 spec.other',
      'number.unrepresentable 4:8 spec.bad',
    ]);
    expect(parsed.problems[0]?.message).toContain('.inf (Infinity) cannot be represented in JSON');
  });

  it('refuses integers a double cannot hold exactly; keeps what go-yaml makes a float', () => {
    const parsed = parseFixture('large-integer.yaml');
    expect(parsed.problems.map(where)).toEqual([
      'number.unrepresentable 2:9 unsafe',
      'number.unrepresentable 3:9 uint64',
    ]);
    expect(parsed.problems[0]?.message).toContain('integer 9007199254740993 is beyond ±(2^53 - 1)');
    const floats = parseText('f.yaml', 'safe: 9007199254740991\nbig: 18446744073709551616\n');
    expect(values(floats)).toEqual([{ safe: 9007199254740991, big: 2 ** 64 }]);
  });

  it('reports each syntax error plainly, one per line, and keeps the documents around it', () => {
    const parsed = parseFixture('syntax-error-in-second-document.yaml');
    expect(values(parsed)).toEqual([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'first' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'third' } },
    ]);
    expect(parsed.problems.map(where)).toEqual(['yaml.syntax 9:9']);
    expect(parsed.problems[0]?.message).toBe('nested mappings are not allowed in compact mappings');
  });

  it('collects every syntax error of a file, pointing an unclosed quote at the end of its text', () => {
    const parsed = parseFixture('many-errors.yaml');
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual([
      'yaml.syntax 1:17',
      'yaml.syntax 3:9',
      'yaml.syntax 5:4',
    ]);
    expect(parsed.problems.map((problem) => problem.message)).toEqual([
      'missing closing " quote',
      'flow sequence in block collection must be sufficiently indented and end with a ]',
      'plain value cannot start with reserved character @',
    ]);
  });

  it('explains tabs used as indentation', () => {
    const parsed = parseFixture('tab-indentation.yaml');
    expect(parsed.problems.map(where)).toEqual(['yaml.syntax 2:1']);
    expect(parsed.problems[0]?.message).toBe('tabs are not allowed as indentation');
  });

  it('turns parser jargon into plain words', () => {
    const parsed = parseText('seq.yaml', '- a\nb: 1\n');
    expect(parsed.problems.map(where)).toEqual(['yaml.syntax 2:1']);
    expect(parsed.problems[0]?.message).toBe(
      'unexpected text after a complete value; check the indentation of this line',
    );
    const bracket = parseText('bracket.yaml', 'a: [1]]\n');
    expect(bracket.problems[0]?.message).toBe(
      'unexpected "]" here; check the indentation and the ":" or "-" before it',
    );
  });

  it('drops empty, comment-only and null documents silently', () => {
    const parsed = parseFixture('empty-documents.yaml');
    expect(parsed.problems).toEqual([]);
    expect(values(parsed)).toEqual([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'only' } }]);
    expect(parsed.documents[0]?.origin).toEqual({
      file: 'empty-documents.yaml',
      line: 10,
      column: 1,
    });
    expect(parseText('empty.yaml', '').documents).toEqual([]);
    expect(parseText('empty.yaml', '').problems).toEqual([]);
  });

  it('allows only a comment after "---", as kubectl does, and drops the document it starts', () => {
    const parsed = parseFixture('separator-with-content.yaml');
    expect(values(parsed)).toEqual([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kept' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'also-kept' } },
    ]);
    expect(parsed.problems.map(where)).toEqual(['yaml.syntax 5:5']);
    expect(parsed.problems[0]?.message).toContain('only a comment may follow "---"');
    expect(parsed.documents[1]?.origin.line).toBe(9);
  });

  it('reports a document after "..." that kubectl would silently ignore', () => {
    const parsed = parseFixture('document-end-marker.yaml');
    expect(values(parsed)).toEqual([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'read' } }]);
    expect(parsed.problems.map(where)).toEqual(['yaml.syntax 6:1']);
  });

  it('stops alias bombs at maxAliasNodes and keeps the file’s other documents', () => {
    const started = performance.now();
    const parsed = parseFixture('alias-bomb.yaml');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(parsed.problems.map(where)).toEqual(['yaml.alias-limit 5:8 e[0]']);
    expect(parsed.problems[0]?.message).toContain('more than 10000 nodes');
    expect(values(parsed)).toEqual([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'survivor' } },
    ]);
  });

  it('expands small anchors and aliases, as copies', () => {
    const parsed = parseFixture('small-anchors.yaml');
    expect(parsed.problems).toEqual([]);
    const rc = values(parsed)[0] as {
      metadata: { labels: Record<string, string> };
      spec: {
        selector: Record<string, string>;
        template: { metadata: { labels: Record<string, string> }; spec: { containers: unknown[] } };
      };
    };
    const labels = { app: 'web', tier: 'frontend' };
    expect(rc.spec.selector).toEqual(labels);
    expect(rc.spec.template.metadata.labels).toEqual(labels);
    expect(rc.spec.template.spec.containers).toEqual([
      { name: 'web', image: 'nginx' },
      { name: 'sidecar', image: 'nginx' },
    ]);
    // Copies, not shared objects: later stages may default fields in place.
    expect(rc.spec.selector).not.toBe(rc.metadata.labels);
  });

  it('counts alias expansion against a lowered maxAliasNodes', () => {
    const parsed = parseFixture('small-anchors.yaml', { maxAliasNodes: 5 });
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual([
      'yaml.alias-limit 13:15 spec.template.metadata.labels',
    ]);
  });

  it('reports recursive and undefined aliases', () => {
    const parsed = parseFixture('alias-errors.yaml');
    expect(parsed.problems.map(where)).toEqual([
      'yaml.syntax 1:14 loop[0]',
      'yaml.syntax 2:10 missing',
    ]);
    expect(parsed.problems[1]?.message).toBe(
      'alias *nowhere refers to no anchor &nowhere defined before it in this document',
    );
  });

  it('refuses nesting beyond MAX_NESTING_DEPTH without overflowing the stack', () => {
    const parsed = parseFixture('deep-nesting.yaml');
    expect(parsed.problems.map(where)).toEqual(['yaml.depth-limit 1:257']);
    expect(values(parsed)).toEqual([{ kind: 'Pod' }]);
    const flow = parseText('flow.yaml', `a: ${'['.repeat(100_000)}\n`);
    expect(flow.problems.map(where)).toEqual(['yaml.depth-limit 1:131']);
    // Twice in one process: a stack overflow inside the yaml package can abort node itself.
    expect(parseFixture('deep-nesting.yaml').problems.map(where)).toEqual([
      'yaml.depth-limit 1:257',
    ]);
  });

  it('refuses a file over maxFileBytes without parsing it, saying how to raise the limit', () => {
    const parsed = parseText('big.yaml', `kind: Pod\n${'#'.repeat(2000)}\n`, {
      maxFileBytes: 1024,
    });
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual(['file.too-large 1:1']);
    expect(parsed.problems[0]?.message).toBe(
      'file is 2.0 KiB (2011 bytes), over the limit of 1.0 KiB (1024 bytes); raise the limit with --max-file-size',
    );
    expect(parseText('ok.yaml', 'kind: Pod\n', { maxFileBytes: 10 }).problems).toEqual([]);
  });

  it('sorts problems by position', () => {
    const parsed = parseText('sorted.yaml', 'b: .nan\na: [1\n---\nc: 1\nc: 2\n---\nd: !x 1\n');
    const lines = parsed.problems.map((problem) => problem.origin.line);
    expect(lines).toEqual([...lines].sort((x, y) => x - y));
    expect(parsed.problems.map((problem) => problem.code)).toEqual([
      'yaml.syntax',
      'yaml.duplicate-key',
      'yaml.tag',
    ]);
  });
});

describe('RawDocument.origin and locate', () => {
  const parsed = parseFixture('pod-positions.yaml');
  const document = parsed.documents[0];
  const at = (path: readonly (string | number)[]): string => {
    const origin = document?.locate(path);
    return origin === undefined ? 'none' : `${origin.file}:${origin.line}:${origin.column}`;
  };

  it('puts the document origin at its first content node, after comments', () => {
    expect(parsed.problems).toEqual([]);
    expect(document?.origin).toEqual({ file: 'pod-positions.yaml', line: 2, column: 1 });
    expect(at([])).toBe('pod-positions.yaml:2:1');
  });

  it('points at the key of a mapping entry', () => {
    expect(at(['metadata', 'name'])).toBe('pod-positions.yaml:5:3');
    expect(at(['spec', 'containers', 0, 'image'])).toBe('pod-positions.yaml:11:5');
    expect(at(['spec', 'containers', 0, 'ports', 0, 'name'])).toBe('pod-positions.yaml:14:7');
  });

  it('points at the item for a sequence index', () => {
    expect(at(['spec', 'containers', 0])).toBe('pod-positions.yaml:10:5');
    expect(at(['spec', 'containers', 0, 'env', 0])).toBe('pod-positions.yaml:16:7');
  });

  it('points at the key when the value is missing', () => {
    expect(at(['spec', 'containers', 0, 'env', 0, 'value'])).toBe('pod-positions.yaml:17:7');
  });

  it('falls back to the nearest existing ancestor', () => {
    expect(at(['spec', 'containers', 0, 'resources', 'limits'])).toBe('pod-positions.yaml:10:5');
    expect(at(['spec', 'containers', 3])).toBe('pod-positions.yaml:9:3');
    expect(at(['metadata', 'name', 'deeper'])).toBe('pod-positions.yaml:5:3');
    expect(at(['nope'])).toBe('pod-positions.yaml:2:1');
  });

  it('follows aliases and merge keys to the text that holds the value', () => {
    const merged = parseFixture('merge-keys.yaml').documents[0];
    expect(merged?.locate(['web', 'imagePullPolicy'])).toMatchObject({ line: 3, column: 3 });
    expect(merged?.locate(['web', 'image'])).toMatchObject({ line: 7, column: 3 });
    expect(merged?.locate(['many', 'name'])).toMatchObject({ line: 9, column: 20 });
    expect(merged?.locate(['inline', 'port'])).toMatchObject({ line: 11, column: 8 });
    const anchors = parseFixture('small-anchors.yaml').documents[0];
    expect(anchors?.locate(['spec', 'selector', 'tier'])).toMatchObject({ line: 7, column: 5 });
    expect(anchors?.locate(['spec', 'template', 'spec', 'containers', 1, 'image'])).toMatchObject({
      line: 18,
      column: 9,
    });
  });

  it('locates in every document of a multi-document file', () => {
    const multi = parseFixture('syntax-error-in-second-document.yaml');
    expect(multi.documents.map((doc) => doc.locate(['metadata', 'name']).line)).toEqual([4, 15]);
  });

  it('counts columns in characters and handles CRLF line ends', () => {
    const parsed = parseText('wide.yaml', 'a: "é😀"\r\nb:\r\n  c: 1\r\n');
    expect(parsed.problems).toEqual([]);
    expect(parsed.documents[0]?.locate(['b', 'c'])).toMatchObject({ line: 3, column: 3 });
    const after = parseText('wide.yaml', 'a: ["é😀", x]\n').documents[0];
    expect(after?.locate(['a', 1])).toMatchObject({ line: 1, column: 11 });
  });
});

describe('parseManifestFile: encodings', () => {
  const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name } });

  it('accepts a UTF-8 byte order mark, with positions counted after it', () => {
    const parsed = parseFixture('utf8-bom.yaml');
    expect(parsed.problems).toEqual([]);
    expect(values(parsed)).toEqual([pod('bom')]);
    expect(parsed.documents[0]?.locate(['metadata', 'name'])).toMatchObject({ line: 4, column: 3 });
  });

  it('accepts UTF-16 with a byte order mark, as kubectl (BOMOverride) does', () => {
    for (const name of ['utf16le-bom.yaml', 'utf16be-bom.yaml']) {
      const parsed = parseFixture(name);
      expect(parsed.problems).toEqual([]);
      expect(values(parsed)).toEqual([pod('café')]);
    }
  });

  it('reports UTF-16 without a byte order mark as binary (NUL bytes)', () => {
    const parsed = parseFixture('utf16-without-bom.yaml');
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual(['file.binary 1:2']);
  });

  it('reports NUL bytes as binary content at their line and column', () => {
    const parsed = parseFixture('nul-byte.yaml');
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual(['file.binary 2:8']);
    expect(parsed.problems[0]?.message).toContain('byte offset 22');
  });

  it('reports invalid UTF-8 with the line of the byte offset', () => {
    const parsed = parseFixture('invalid-utf8.yaml');
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual(['file.encoding 4:12']);
    expect(parsed.problems[0]?.message).toBe(
      'invalid UTF-8 (byte 0xE9 at byte offset 46); save the file as UTF-8',
    );
  });

  it('reports one problem per line with invalid UTF-8, and counts the lines past ten', () => {
    const lines: number[] = [];
    for (let i = 0; i < 13; i++) lines.push(...new TextEncoder().encode(`k${i}: `), 0xff, 0x0a);
    const parsed = parseManifestFile('latin1.yaml', new Uint8Array(lines));
    expect(parsed.problems).toHaveLength(10);
    expect(parsed.problems[0]).toMatchObject({
      code: 'file.encoding',
      origin: { line: 1, column: 5 },
    });
    expect(parsed.problems[9]?.message).toContain('(and 3 more lines with invalid UTF-8)');
  });

  it('reports broken UTF-16: an unpaired surrogate, an odd byte count', () => {
    const surrogate = new Uint8Array([
      0xff, 0xfe, 0x61, 0x00, 0x0a, 0x00, 0x62, 0x00, 0x00, 0xd8, 0x63, 0x00,
    ]);
    const broken = parseManifestFile('s.yaml', surrogate);
    expect(broken.problems.map(where)).toEqual(['file.encoding 2:2']);
    expect(broken.problems[0]?.message).toContain('unpaired surrogate');
    const odd = parseManifestFile('o.yaml', new Uint8Array([0xff, 0xfe, 0x61, 0x00, 0x62]));
    expect(odd.problems.map((problem) => problem.code)).toEqual(['file.encoding']);
  });
});

describe('parseManifestFile: JSON files', () => {
  it('reads one JSON value with positions', () => {
    const parsed = parseFixture('pod.json');
    expect(parsed.problems).toEqual([]);
    expect(values(parsed)).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'json-pod', labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }] },
      },
    ]);
    const document = parsed.documents[0];
    expect(document?.origin).toEqual({ file: 'pod.json', line: 1, column: 1 });
    expect(document?.locate(['metadata', 'labels', 'app'])).toMatchObject({ line: 4, column: 47 });
    expect(document?.locate(['spec', 'containers', 0, 'ports', 0, 'containerPort'])).toMatchObject({
      line: 7,
      column: 52,
    });
    expect(document?.locate(['spec', 'containers', 0])).toMatchObject({ line: 7, column: 7 });
    expect(document?.locate(['spec', 'volumes', 0])).toMatchObject({ line: 5, column: 3 });
  });

  it('reports JSON syntax errors with line and column', () => {
    const parsed = parseFixture('json-syntax-error.json');
    expect(parsed.documents).toEqual([]);
    expect(parsed.problems.map(where)).toEqual(['json.syntax 4:1']);
    expect(parsed.problems[0]?.message).toBe(
      'unexpected "}"; expected a string key in double quotes',
    );
  });

  it('reports JSON duplicate keys, which JSON.parse would hide', () => {
    const parsed = parseFixture('json-duplicate-key.json');
    expect(parsed.problems.map(where)).toEqual(['json.duplicate-key 4:3 kind']);
    expect(parsed.problems[0]?.message).toBe(
      'duplicate key "kind": it is already defined at line 2',
    );
  });

  it('holds one value per .json file', () => {
    const parsed = parseFixture('json-trailing-content.json');
    expect(parsed.problems.map(where)).toEqual(['json.syntax 2:1']);
  });

  it('refuses integers beyond 2^53 in JSON too', () => {
    const parsed = parseFixture('json-large-integer.json');
    expect(parsed.problems.map(where)).toEqual([
      'number.unrepresentable 1:36 spec.activeDeadlineSeconds',
    ]);
  });

  it('reads JSON strictly: no comments, no single quotes, escapes decoded', () => {
    expect(parseText('c.json', '{"a": 1 // no\n}').problems.map(where)).toEqual([
      'json.syntax 1:9',
    ]);
    expect(parseText('q.json', "{'a': 1}").problems.map(where)).toEqual(['json.syntax 1:2']);
    expect(parseText('n.json', '{"a": 01}').problems.map(where)).toEqual(['json.syntax 1:8']);
    expect(parseText('u.json', '{"a": "x').problems.map(where)).toEqual(['json.syntax 1:7']);
    expect(values(parseText('e.json', '{"a": "\\u00e9\\n\\"\\/"}'))).toEqual([{ a: 'é\n"/' }]);
    expect(values(parseText('yes.json', '{"a": "yes", "b": 1e3}'))).toEqual([
      { a: 'yes', b: 1000 },
    ]);
  });

  it('skips empty and null JSON files, accepts a UTF-8 BOM and an upper-case extension', () => {
    expect(parseText('empty.json', ' \n').documents).toEqual([]);
    expect(parseText('null.json', 'null').documents).toEqual([]);
    const bom = parseManifestFile(
      'BOM.JSON',
      new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"kind": "Pod"}')]),
    );
    expect(values(bom)).toEqual([{ kind: 'Pod' }]);
    expect(bom.problems).toEqual([]);
  });

  it('refuses JSON nested beyond MAX_NESTING_DEPTH', () => {
    const parsed = parseText('deep.json', `${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    expect(parsed.problems.map(where)).toEqual(['json.syntax 1:129']);
  });
});
