/**
 * Differential tests of the fast YAML path against the full reader: on generated
 * manifest-like texts the fast path either steps aside or gives exactly the full reader's
 * values, root origins and positions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareWithFull } from './parse-fast-helpers.js';

/** Scalars as written in a value position; most are in the fast subset. */
const COMMON_SCALARS = [
  'web',
  'nginx:1.25',
  'registry.example/app:1.0',
  '/bin/server',
  'metadata.name',
  'production',
  '100m',
  '64Mi',
  '8080',
  '80',
  '0',
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'Y',
  'True',
  'FALSE',
  '~',
  'null',
  'Null',
  '',
  '0755',
  '0o17',
  '0x1F',
  '0b101',
  '1e3',
  '.5',
  '-.5',
  '+1',
  '-1',
  '-0',
  '-0.0',
  '1_000',
  '1.0',
  '007',
  '08',
  '1:30',
  '2001-12-14',
  '9007199254740991',
  '.NaN_not',
  'yES',
  'Yes!',
  '"quoted"',
  '"yes"',
  '"8080"',
  "'it''s'",
  "'single'",
  "''",
  '""',
  '" padded "',
  '"# inside"',
  "'# inside'",
  '"a: b"',
  "'a: b'",
  '"a\\"b"',
  '"a\\\\b"',
  '"a\\nb"',
  '"tab\\there"',
  '--port',
  '--port=8080',
  '-x',
  '---',
  '...',
  'a - b',
  'a -',
  'http://example.com:80/x',
  'a:b',
  'a :b',
  'a#b',
  'a # trailing',
  'a[0]',
  'x {y}',
  'a, b',
  'héllo',
  '日本語',
  '😀 emoji',
  '[]',
  '{}',
  '[ ]',
  '{ }',
  '[a, "b", 1]',
  '["--port", "8080"]',
  "['a', 'it''s']",
  '[yes, no, ~, 0x1F, .5]',
  '[ a , b ]',
  '[a b]',
  '[-1, -x]',
  '{a: 1, b: "x"}',
  '{ a: yes, "b c": ~ }',
  "{'k': 'v'}",
  '{1: one, 0x1F: hex}',
];

/** Scalars outside the subset or invalid: the fast path must step aside (or agree). */
const TRICKY_SCALARS = [
  '-',
  '- x',
  ': ',
  ':x',
  'a: b',
  'a:',
  '&anchor value',
  '*alias',
  '!!str 12',
  '!tag x',
  '? x',
  '?x',
  '%x',
  '@x',
  '`x',
  ',x',
  '|x',
  '>',
  '"\\u0041"',
  '"\\x41"',
  '"\\/"',
  '"unclosed',
  "'unclosed",
  '"a"b',
  '"a"#c',
  "'a' 'b'",
  '9007199254740993',
  '9223372036854775807',
  '18446744073709551615',
  '123456789012345678901234567890',
  '.inf',
  '-.Inf',
  '.nan',
  '1e400',
  '{a: 1, a: 2}',
  '[a, [b]]',
  '{a: {b: 1}}',
  '[a,]',
  '[a, b',
  '{a: 1',
  '["a":1]',
  '{"a":1}',
  '{a:1}',
  '{a}',
  '[-]',
  '[- a]',
  '[a: b]',
  '[a#b]',
  "[it's]",
  '[a] x',
  '[a]#c',
  '{<<: x}',
  '{__proto__: x}',
  '\ttab',
  'a\tb',
];

const KEYS = [
  'name',
  'name',
  'image',
  'apiVersion',
  'kind',
  'labels',
  'app',
  'containers',
  'ports',
  'env',
  'value',
  'berth.io/owner',
  'app.kubernetes.io/name',
  '"quoted key"',
  "'single key'",
  '"name"',
  '"a: b"',
  '"#"',
  '"a\\"b"',
  "'it''s'",
  '""',
  'yes',
  'on',
  'y',
  'true',
  '1',
  '0x1F',
  '1.5',
  '1e3',
  '.5',
  '.inf',
  '-k',
  '--flag',
  'a b',
  'key ',
  '"spaced" ',
  'k#x',
  'é',
  '9223372036854775807',
  '9007199254740993',
  // Keys the fast path must leave to the full reader (or that are errors).
  '~',
  'null',
  '<<',
  '"<<"',
  '__proto__',
  '9223372036854775808',
  'k #x',
  'a[0]',
  '[a]',
  '{a: 1}',
  '? k',
  '&a k',
  '*a',
  '!t k',
  'a: b',
  '-',
  '"unclosed',
];

const COMMENTS = ['', '', '', '', ' # note', ' #', '  # a: b', ' # - x', ' #|'];

const BLOCK_HEADERS = ['|', '|-', '| # script', '|-  '];
/** Block scalar headers outside the subset: keep, folded, indentation indicator, bad comment. */
const OTHER_BLOCK_HEADERS = ['|+', '>', '>-', '|2', '|#x'];
const BLOCK_LINES = [
  'echo hello',
  'while true; do sleep 3600 & wait $!; done',
  'a: b',
  '# not a comment',
  '"quoted" and \'quoted\'',
  '- item',
  '  more indented',
  '',
  '',
  'trailing spaces  ',
  'x | y > z',
];

type Tree =
  | { readonly kind: 'scalar'; readonly text: string; readonly comment: string }
  | { readonly kind: 'block'; readonly header: string; readonly body: readonly string[] }
  | { readonly kind: 'map'; readonly entries: readonly Entry[] }
  | { readonly kind: 'seq'; readonly items: readonly Item[] };

interface Entry {
  readonly key: string;
  readonly value: Tree;
  readonly comment: string;
  /** A sequence value at the key's own indent (kubectl style). */
  readonly sameIndent: boolean;
  /** Blank and comment lines before the entry: [indent, text]. */
  readonly before: readonly (readonly [number, string])[];
}

interface Item {
  readonly value: Tree;
  readonly compact: boolean;
  readonly comment: string;
  readonly dashSpaces: number;
}

const scalarText = fc.oneof(
  { arbitrary: fc.constantFrom(...COMMON_SCALARS), weight: 12 },
  { arbitrary: fc.constantFrom(...TRICKY_SCALARS), weight: 1 },
);
const keyText = fc.oneof(
  { arbitrary: fc.constantFrom(...KEYS.slice(0, 40)), weight: 12 },
  { arbitrary: fc.constantFrom(...KEYS.slice(40)), weight: 1 },
);
const comment = fc.constantFrom(...COMMENTS);
const beforeLines = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 8 }), fc.constantFrom('', '', '# comment', '#', '# - a: b')),
  { maxLength: 2 },
);

const trees = fc.letrec<{ tree: Tree; scalar: Tree; block: Tree; map: Tree; seq: Tree }>((tie) => ({
  tree: fc.oneof(
    { maxDepth: 6, depthSize: 'small' },
    { arbitrary: tie('scalar'), weight: 6 },
    { arbitrary: tie('block'), weight: 1 },
    { arbitrary: tie('map'), weight: 3 },
    { arbitrary: tie('seq'), weight: 2 },
  ),
  scalar: fc.record({ kind: fc.constant('scalar' as const), text: scalarText, comment }),
  block: fc.record({
    kind: fc.constant('block' as const),
    header: fc.oneof(
      { arbitrary: fc.constantFrom(...BLOCK_HEADERS), weight: 6 },
      { arbitrary: fc.constantFrom(...OTHER_BLOCK_HEADERS), weight: 1 },
    ),
    body: fc.array(fc.constantFrom(...BLOCK_LINES), { minLength: 1, maxLength: 5 }),
  }),
  map: fc.record({
    kind: fc.constant('map' as const),
    entries: fc.array(
      fc.record({
        key: keyText,
        value: tie('tree'),
        comment,
        sameIndent: fc.boolean(),
        before: beforeLines,
      }),
      { maxLength: 5 },
    ),
  }),
  seq: fc.record({
    kind: fc.constant('seq' as const),
    items: fc.array(
      fc.record({
        value: tie('tree'),
        compact: fc.boolean(),
        comment,
        dashSpaces: fc.integer({ min: 1, max: 3 }),
      }),
      { maxLength: 4 },
    ),
  }),
}));

const spaces = (n: number): string => ' '.repeat(n);

/** Lines of a value standing after `head` (a key and colon, or a dash) at `indent`. */
function renderValue(head: string, value: Tree, comment: string, indent: number, step: number) {
  const lines: string[] = [];
  switch (value.kind) {
    case 'scalar':
      lines.push(value.text === '' ? `${head}${comment}` : `${head} ${value.text}${comment}`);
      break;
    case 'block':
      lines.push(`${head} ${value.header}`);
      for (const line of value.body) lines.push(line === '' ? '' : spaces(indent + step) + line);
      break;
    case 'map':
      if (value.entries.length === 0) lines.push(`${head} {}${comment}`);
      else lines.push(`${head}${comment}`, ...renderMap(value, indent + step, step));
      break;
    case 'seq':
      if (value.items.length === 0) lines.push(`${head} []${comment}`);
      else lines.push(`${head}${comment}`, ...renderSeq(value, indent + step, step));
      break;
  }
  return lines;
}

function renderMap(map: Tree & { kind: 'map' }, indent: number, step: number): string[] {
  const lines: string[] = [];
  map.entries.forEach((entry, index) => {
    if (index > 0) {
      for (const [at, text] of entry.before)
        lines.push(text === '' ? spaces(at) : spaces(at) + text);
    }
    const head = `${spaces(indent)}${entry.key}:`;
    if (entry.value.kind === 'seq' && entry.value.items.length > 0 && entry.sameIndent) {
      lines.push(`${head}${entry.comment}`, ...renderSeq(entry.value, indent, step));
    } else {
      lines.push(...renderValue(head, entry.value, entry.comment, indent, step));
    }
  });
  return lines;
}

function renderSeq(seq: Tree & { kind: 'seq' }, indent: number, step: number): string[] {
  const lines: string[] = [];
  for (const item of seq.items) {
    const dash = `${spaces(indent)}-`;
    const value = item.value;
    if (value.kind === 'map' && value.entries.length > 0 && item.compact) {
      const keyIndent = indent + 1 + item.dashSpaces;
      const [first = '', ...rest] = renderMap(value, keyIndent, step);
      lines.push(dash + spaces(item.dashSpaces) + first.slice(keyIndent), ...rest);
    } else if (value.kind === 'scalar' && value.text !== '') {
      lines.push(`${dash}${spaces(item.dashSpaces)}${value.text}${item.comment}`);
    } else {
      lines.push(...renderValue(dash, value, item.comment, indent, step));
    }
  }
  return lines;
}

interface Doc {
  readonly root: Tree;
  readonly indent: number;
  readonly step: number;
  readonly leading: readonly string[];
}

const doc = fc.record({
  root: fc.oneof(
    { arbitrary: trees.map, weight: 16 },
    { arbitrary: trees.seq, weight: 4 },
    { arbitrary: trees.scalar, weight: 1 },
  ),
  indent: fc.oneof(
    { arbitrary: fc.constant(0), weight: 8 },
    { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 1 },
  ),
  step: fc.integer({ min: 1, max: 4 }),
  leading: fc.array(fc.constantFrom('', '# leading comment', '  # indented comment'), {
    maxLength: 2,
  }),
});

function renderDoc(document: Doc): string[] {
  const { root, indent, step } = document;
  const body =
    root.kind === 'map'
      ? renderMap(root, indent, step)
      : root.kind === 'seq'
        ? renderSeq(root, indent, step)
        : [`${spaces(indent)}${root.kind === 'scalar' ? root.text : ''}`];
  return [...document.leading, ...body];
}

interface FileShape {
  readonly documents: readonly Doc[];
  readonly separators: readonly string[];
  readonly leadingSeparator: boolean;
  readonly crlf: boolean;
  readonly finalNewline: boolean;
}

const file = fc.record({
  documents: fc.array(doc, { minLength: 1, maxLength: 3 }),
  separators: fc.array(fc.constantFrom('---', '---', '--- # next', '---   ', '---#x'), {
    minLength: 3,
    maxLength: 3,
  }),
  leadingSeparator: fc.boolean(),
  crlf: fc.boolean(),
  finalNewline: fc.boolean(),
});

function fileLines(shape: FileShape): string[] {
  const lines: string[] = shape.leadingSeparator ? ['---'] : [];
  shape.documents.forEach((document, index) => {
    if (index > 0) lines.push(shape.separators[index - 1] ?? '---');
    lines.push(...renderDoc(document));
  });
  return lines;
}

function joinLines(shape: FileShape, lines: readonly string[]): string {
  const eol = shape.crlf ? '\r\n' : '\n';
  return lines.join(eol) + (shape.finalNewline ? eol : '');
}

/** Small edits that often leave the subset or make the text invalid. */
type Mutation =
  | { readonly kind: 'insert-line'; readonly at: number; readonly line: string }
  | { readonly kind: 'reindent'; readonly at: number; readonly delta: number }
  | {
      readonly kind: 'insert-text';
      readonly at: number;
      readonly column: number;
      readonly text: string;
    };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('insert-line' as const),
    at: fc.nat(),
    line: fc.constantFrom(
      '...',
      '%YAML 1.1',
      '---x',
      '----',
      '\tkey: v',
      'key: v',
      '  - item',
      '    more',
      '  "quoted": 1',
      '? complex',
      ': value',
      '&anchor',
      'name: dup',
      ' ',
      '#',
      '- - nested',
    ),
  }),
  fc.record({
    kind: fc.constant('reindent' as const),
    at: fc.nat(),
    delta: fc.constantFrom(-2, -1, 1, 2),
  }),
  fc.record({
    kind: fc.constant('insert-text' as const),
    at: fc.nat(),
    column: fc.nat({ max: 30 }),
    text: fc.constantFrom(
      ' ',
      ':',
      ': ',
      '#',
      ' #',
      '-',
      '- ',
      '"',
      "'",
      '[',
      ']',
      '{',
      '}',
      ',',
      '&',
      '*',
      '!',
      '|',
      '>',
      '\\',
      '\t',
      '\r',
      '\u00a0',
      '\ufeff',
      '\u0085',
      'é',
      '😀',
    ),
  }),
);

function mutate(lines: readonly string[], change: Mutation): string[] {
  const out = [...lines];
  if (out.length === 0) return out;
  const at = change.at % out.length;
  const line = out[at] ?? '';
  switch (change.kind) {
    case 'insert-line':
      out.splice(at, 0, change.line);
      break;
    case 'reindent':
      out[at] = change.delta > 0 ? spaces(change.delta) + line : line.replace(/^ {1,2}/, '');
      break;
    case 'insert-text': {
      const column = Math.min(change.column, line.length);
      out[at] = line.slice(0, column) + change.text + line.slice(column);
      break;
    }
  }
  return out;
}

describe('readYamlFast against the full reader (fast-check)', () => {
  it('on generated manifest-like files: steps aside, or gives the same values, origins and positions', () => {
    let fast = 0;
    let runs = 0;
    fc.assert(
      fc.property(file, (shape) => {
        runs++;
        if (compareWithFull(joinLines(shape, fileLines(shape))) === 'fast') fast++;
      }),
      { numRuns: 2000 },
    );
    // The property means little if the fast path steps aside everywhere. It reads about 27%
    // of these files, so a bound at 25% failed about one run in fifty (seeds 38, 138, 147,
    // 198, 276 and 285 of 1..300); 20% is over seven standard deviations below that rate.
    expect(fast).toBeGreaterThan(runs * 0.2);
  });

  it('on the same files with a small edit (often invalid or outside the subset): steps aside or agrees', () => {
    let fast = 0;
    fc.assert(
      fc.property(file, fc.array(mutation, { minLength: 1, maxLength: 3 }), (shape, changes) => {
        const lines = changes.reduce(mutate, fileLines(shape));
        if (compareWithFull(joinLines(shape, lines), { locate: false }) === 'fast') fast++;
      }),
      { numRuns: 1500 },
    );
    expect(fast).toBeGreaterThan(0);
  });

  it('on lines assembled at random indents: steps aside or agrees', () => {
    const fragment = fc.constantFrom(
      '- ',
      '-',
      '- # c',
      'a:',
      'b: 1',
      'c: yes',
      'a: dup',
      '"q": x',
      '- k: v',
      '- k:',
      '- - x',
      '- [a, b]',
      '- {a: 1}',
      'k: [1, 2]',
      '- |',
      'k: |-',
      'text line',
      '# comment',
      '',
    );
    const line = fc.tuple(fc.integer({ min: 0, max: 6 }), fragment);
    let fast = 0;
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 12 }), (parts) => {
        const text = `${parts.map(([indent, text]) => spaces(indent) + text).join('\n')}\n`;
        if (compareWithFull(text, { locate: false }) === 'fast') fast++;
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(0);
  });
});
