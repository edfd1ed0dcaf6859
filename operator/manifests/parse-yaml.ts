/**
 * YAML manifest files, read as kubectl reads them:
 *
 * - kubectl (apimachinery's YAMLReader) cuts a file into documents at every line that starts
 *   with `---`, and allows only a comment after the `---` on that line. berth cuts the same
 *   way, so a syntax error stays inside its document and the other documents still load.
 * - Each piece is parsed by the `yaml` package with the 'failsafe' schema (all scalars are
 *   text); plain scalars are then resolved as go-yaml v2 does (parse-scalar.ts), and the
 *   tree is turned into JSON data as sigs.k8s.io/yaml does: non-string keys become strings,
 *   merge keys `<<` are applied, aliases are expanded (within `maxAliasNodes`).
 * - Merge keys follow the merge-key spec (and go-yaml v3): keys written in the mapping win
 *   over merged ones wherever the `<<` stands. go-yaml v2 applies `<<` in place, so a key
 *   written *before* `<<` loses to the merged value there; the usual `<<`-first style reads
 *   the same in both.
 * - Duplicate keys are errors (kubectl's non-strict reading keeps the last one silently; the
 *   API server's strict field validation refuses them).
 * - Nesting is bounded before composing: the `yaml` package composes recursively, and a
 *   stack overflow inside it can take the whole process down.
 */
import {
  type Alias,
  Composer,
  type CST,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Pair,
  type ParsedNode,
  Parser,
  type Scalar,
  type YAMLError,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { setField } from '../model/json.js';
import {
  type FieldPath,
  formatFieldPath,
  type Origin,
  type Problem,
  type ProblemCode,
} from '../model/problem.js';
import type { FastDocument } from './parse-fast.js';
import { locateOffset, type PosEntry, type PosMap, type PosNode } from './parse-positions.js';
import {
  type CoreScalarTag,
  keyString,
  type Resolved,
  resolvePlain,
  resolveTagged,
} from './parse-scalar.js';
import type { LineIndex } from './parse-text.js';
import type { ParseLimits, RawDocument } from './types.js';

/**
 * Deepest nesting of mappings and sequences berth reads. Kubernetes objects need a dozen
 * levels; the bound keeps every recursive walk (the `yaml` composer, berth's own, and every
 * later stage) far from the stack limit.
 */
export const MAX_NESTING_DEPTH = 128;
/** Bound for values grown by alias expansion (an alias may sit deep and point at a deep node). */
const MAX_VALUE_DEPTH = 2 * MAX_NESTING_DEPTH;

const COMPOSE_OPTIONS = {
  schema: 'failsafe',
  merge: false,
  uniqueKeys: false,
  strict: true,
  prettyErrors: false,
} as const;

const CORE_TAG_PREFIX = 'tag:yaml.org,2002:';
const CORE_SCALAR_TAGS = new Set<string>([
  'str',
  'bool',
  'int',
  'float',
  'null',
  'timestamp',
  'binary',
]);

export interface ParsedYaml {
  readonly documents: RawDocument[];
  readonly problems: Problem[];
}

interface TextContext {
  readonly file: string;
  readonly text: string;
  readonly lines: LineIndex;
}

/** A piece of the file between `---` lines, as kubectl's reader hands it to go-yaml. */
interface Piece {
  readonly start: number;
  readonly end: number;
}

export function parseYamlText(context: TextContext, limits: ParseLimits): ParsedYaml {
  const documents: RawDocument[] = [];
  const problems: Problem[] = [];
  for (const piece of splitLikeKubectl(context, problems)) {
    parsePiece(context, piece, limits, documents, problems);
  }
  return { documents, problems };
}

/**
 * kubectl's document splitting: every line starting with `---` ends a piece; anything but
 * a comment after the `---` is an error there ("invalid Yaml document separator"), and the
 * piece it would start is not read.
 */
function splitLikeKubectl(context: TextContext, problems: Problem[]): Piece[] {
  const { text } = context;
  const pieces: Piece[] = [];
  let pieceStart = 0;
  let skipPiece = false;
  let lineStart = 0;
  for (;;) {
    const newline = text.indexOf('\n', lineStart);
    const lineEnd = newline === -1 ? text.length : newline;
    if (text.startsWith('---', lineStart)) {
      if (!skipPiece) pieces.push({ start: pieceStart, end: lineStart });
      const rest = text.slice(lineStart + 3, lineEnd);
      const trimmed = rest.trim();
      skipPiece = trimmed !== '' && !trimmed.startsWith('#');
      if (skipPiece) {
        const at = lineStart + 3 + (rest.length - rest.trimStart().length);
        const shown = trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed;
        problems.push({
          code: 'yaml.syntax',
          origin: context.lines.origin(context.file, at),
          message: `only a comment may follow "---" on a document separator line (kubectl refuses ${JSON.stringify(shown)} there); move it to the next line`,
        });
      }
      pieceStart = newline === -1 ? text.length : newline + 1;
    }
    if (newline === -1) break;
    lineStart = newline + 1;
  }
  if (!skipPiece) pieces.push({ start: pieceStart, end: text.length });
  return pieces;
}

/** Offset (in the piece) of a collection nested deeper than `max`, if any. */
function tooDeepAt(document: CST.Document, max: number): number | undefined {
  const stack: [CST.Token | null | undefined, number][] = [[document.value, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [token, depth] = top;
    if (token === null || token === undefined) continue;
    if (
      token.type === 'block-map' ||
      token.type === 'block-seq' ||
      token.type === 'flow-collection'
    ) {
      if (depth + 1 > max) return token.offset;
      for (const item of token.items) {
        stack.push([item.key, depth + 1], [item.value, depth + 1]);
      }
    }
  }
  return undefined;
}

function composePiece(source: string): { docs: Document.Parsed[] } | { deepAt: number } {
  const tokens = Array.from(new Parser().parse(source));
  for (const token of tokens) {
    if (token.type !== 'document') continue;
    const deepAt = tooDeepAt(token, MAX_NESTING_DEPTH);
    if (deepAt !== undefined) return { deepAt };
  }
  return { docs: Array.from(new Composer(COMPOSE_OPTIONS).compose(tokens)) };
}

function parsePiece(
  context: TextContext,
  piece: Piece,
  limits: ParseLimits,
  documents: RawDocument[],
  problems: Problem[],
): void {
  const source = context.text.slice(piece.start, piece.end);
  if (source.trim() === '') return;
  const at = (offset: number): Origin => context.lines.origin(context.file, piece.start + offset);
  const composed = composePiece(source);
  if ('deepAt' in composed) {
    problems.push({
      code: 'yaml.depth-limit',
      origin: at(composed.deepAt),
      message: `mappings and sequences are nested more than ${MAX_NESTING_DEPTH} levels deep; berth does not read this document`,
    });
    return;
  }
  composed.docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      problems.push(...syntaxProblems(doc.errors, source, at));
      return;
    }
    if (isEmptyDocument(doc)) return;
    const contents = doc.contents as ParsedNode;
    if (index > 0) {
      // go-yaml reads one document per piece; a second one (after `...`) is silently lost.
      problems.push({
        code: 'yaml.syntax',
        origin: at(contents.range[0]),
        message:
          'kubectl reads only the first document between "---" lines and would ignore this one; start it with a "---" line',
      });
      return;
    }
    const builder = new ValueBuilder(context, piece.start, limits.maxAliasNodes);
    const value = builder.build(contents);
    if (builder.problems.length > 0) {
      problems.push(...builder.problems);
      return;
    }
    documents.push(new YamlDocument(at(contents.range[0]), value, context, piece, index));
  });
}

/** One problem per line: the first error on a line is the cause, the rest mostly echo it. */
function syntaxProblems(
  errors: readonly YAMLError[],
  source: string,
  at: (offset: number) => Origin,
): Problem[] {
  const out: Problem[] = [];
  const lines = new Set<number>();
  // Errors found at the end of the piece (an unclosed quote or bracket) point just after its
  // last text, not at the next "---" line.
  const contentEnd = source.trimEnd().length;
  for (const error of errors) {
    const origin = at(Math.min(error.pos[0], contentEnd));
    if (lines.has(origin.line)) continue;
    lines.add(origin.line);
    out.push({ code: 'yaml.syntax', origin, message: plainMessage(error) });
  }
  return out;
}

const UNEXPECTED_TOKEN = /^Unexpected \S+ token in YAML stream: (".*")$/s;

/** The `yaml` package's message without its parser jargon, starting in lower case. */
function plainMessage(error: YAMLError): string {
  let message = error.message;
  const unexpected = UNEXPECTED_TOKEN.exec(message);
  if (unexpected !== null) {
    message = `unexpected ${unexpected[1]} here; check the indentation and the ":" or "-" before it`;
  } else if (message === 'Unexpected scalar at node end') {
    message = 'unexpected text after a complete value; check the indentation of this line';
  } else if (message.startsWith('Missing closing ')) {
    message = `missing closing ${message.slice('Missing closing '.length).replace('quote', ' quote')}`;
  }
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/** Empty or null documents are skipped, as kubectl skips documents that decode to `null`. */
function isEmptyDocument(doc: Document.Parsed): boolean {
  const contents = doc.contents;
  if (contents === null) return true;
  if (!isScalar(contents)) return false;
  const resolved = resolveScalarNode(contents);
  return resolved.ok && resolved.resolved.type === 'null';
}

type ScalarResult =
  | { readonly ok: true; readonly resolved: Resolved }
  | { readonly ok: false; readonly code: ProblemCode; readonly message: string };

function shortTag(tag: string): string {
  return tag.startsWith(CORE_TAG_PREFIX) ? `!!${tag.slice(CORE_TAG_PREFIX.length)}` : tag;
}

function unsupportedTag(tag: string): string {
  const short = shortTag(tag);
  return short.startsWith('!!')
    ? `the ${short} tag is not supported in Kubernetes manifests; remove it`
    : `custom tag ${JSON.stringify(short)} is not supported: Kubernetes reads plain YAML; remove the tag`;
}

/** A scalar node as go-yaml decodes it into `interface{}`. */
function resolveScalarNode(node: Scalar.Parsed): ScalarResult {
  const tag = node.tag;
  if (tag === undefined) {
    return {
      ok: true,
      resolved:
        node.type === 'PLAIN' ? resolvePlain(node.source) : { type: 'str', value: node.source },
    };
  }
  // `!` alone is the non-specific tag: a string.
  if (tag === '!') return { ok: true, resolved: { type: 'str', value: node.source } };
  const name = tag.startsWith(CORE_TAG_PREFIX) ? tag.slice(CORE_TAG_PREFIX.length) : undefined;
  if (name === undefined || !CORE_SCALAR_TAGS.has(name)) {
    return { ok: false, code: 'yaml.tag', message: unsupportedTag(tag) };
  }
  const result = resolveTagged(name as CoreScalarTag, node.source);
  return result.ok ? result : { ok: false, code: 'yaml.tag', message: result.message };
}

function collectionTagOk(node: YAMLMap.Parsed | YAMLSeq.Parsed, core: 'map' | 'seq'): boolean {
  return node.tag === undefined || node.tag === '!' || node.tag === CORE_TAG_PREFIX + core;
}

function isMergeKey(node: ParsedNode | null): boolean {
  return (
    node !== null &&
    isScalar(node) &&
    node.source === '<<' &&
    ((node.type === 'PLAIN' && node.tag === undefined) || node.tag === `${CORE_TAG_PREFIX}merge`)
  );
}

interface AnchorEntry {
  readonly node: ParsedNode;
  value: unknown;
  done: boolean;
  size: number | undefined;
  depth: number | undefined;
}

class AliasBudgetExceeded extends Error {}

/** Counts the nodes of a JSON value (each mapping, sequence and scalar is one). */
function countNodes(value: unknown): number {
  if (Array.isArray(value)) {
    let n = 1;
    for (const item of value) n += countNodes(item);
    return n;
  }
  if (value !== null && typeof value === 'object') {
    let n = 1;
    for (const item of Object.values(value)) n += countNodes(item);
    return n;
  }
  return 1;
}

function valueDepth(value: unknown): number {
  if (Array.isArray(value)) {
    let deepest = 0;
    for (const item of value) deepest = Math.max(deepest, valueDepth(item));
    return deepest + 1;
  }
  if (value !== null && typeof value === 'object') {
    let deepest = 0;
    for (const item of Object.values(value)) deepest = Math.max(deepest, valueDepth(item));
    return deepest + 1;
  }
  return 0;
}

function deepCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepCopy);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) setField(out, key, deepCopy(item));
    return out;
  }
  return value;
}

/** The YAML tree of one document to JSON data, collecting every problem on the way. */
class ValueBuilder {
  readonly problems: Problem[] = [];
  private readonly path: (string | number)[] = [];
  private readonly anchors = new Map<string, AnchorEntry>();
  private aliasNodes = 0;

  constructor(
    private readonly context: TextContext,
    private readonly base: number,
    private readonly maxAliasNodes: number,
  ) {}

  build(root: ParsedNode): unknown {
    try {
      return this.node(root);
    } catch (error) {
      if (error instanceof AliasBudgetExceeded) return null;
      throw error;
    }
  }

  private problem(code: ProblemCode, offset: number, message: string, field?: FieldPath): void {
    const path = field ?? this.path;
    this.problems.push({
      code,
      origin: this.context.lines.origin(this.context.file, this.base + offset),
      ...(path.length > 0 ? { field: formatFieldPath(path) } : {}),
      message,
    });
  }

  private node(node: ParsedNode | null): unknown {
    if (node === null) return null;
    if (isAlias(node)) return this.alias(node);
    let entry: AnchorEntry | undefined;
    if (node.anchor !== undefined) {
      // Registered before the content, so an alias inside it is seen as recursive.
      entry = { node, value: null, done: false, size: undefined, depth: undefined };
      this.anchors.set(node.anchor, entry);
    }
    let value: unknown = null;
    if (isScalar(node)) value = this.scalar(node);
    else if (isMap(node)) value = this.map(node);
    else if (isSeq(node)) value = this.seq(node);
    if (entry !== undefined) {
      entry.value = value;
      entry.done = true;
    }
    return value;
  }

  private anchorFor(alias: Alias.Parsed): AnchorEntry | undefined {
    const entry = this.anchors.get(alias.source);
    if (entry === undefined) {
      this.problem(
        'yaml.syntax',
        alias.range[0],
        `alias *${alias.source} refers to no anchor &${alias.source} defined before it in this document`,
      );
      return undefined;
    }
    if (!entry.done) {
      this.problem(
        'yaml.syntax',
        alias.range[0],
        `alias *${alias.source} sits inside the node it refers to; JSON cannot hold a recursive structure`,
      );
      return undefined;
    }
    return entry;
  }

  private alias(alias: Alias.Parsed): unknown {
    const entry = this.anchorFor(alias);
    return entry === undefined ? null : this.expand(entry, alias.range[0]);
  }

  /** A copy of an anchored value, counted against the alias budget (billion-laughs guard). */
  private expand(entry: AnchorEntry, offset: number): unknown {
    entry.size ??= countNodes(entry.value);
    entry.depth ??= valueDepth(entry.value);
    if (this.aliasNodes + entry.size > this.maxAliasNodes) {
      this.problem(
        'yaml.alias-limit',
        offset,
        `aliases expand to more than ${this.maxAliasNodes} nodes in this document (an alias bomb?); berth stops here`,
      );
      throw new AliasBudgetExceeded();
    }
    if (this.path.length + entry.depth > MAX_VALUE_DEPTH) {
      this.problem(
        'yaml.depth-limit',
        offset,
        `this alias makes the value nested more than ${MAX_VALUE_DEPTH} levels deep`,
      );
      return null;
    }
    this.aliasNodes += entry.size;
    return deepCopy(entry.value);
  }

  private scalar(node: Scalar.Parsed): unknown {
    const result = resolveScalarNode(node);
    if (!result.ok) {
      this.problem(result.code, node.range[0], result.message);
      return null;
    }
    const resolved = result.resolved;
    switch (resolved.type) {
      case 'null':
        return null;
      case 'bool':
      case 'str':
        return resolved.value;
      case 'int':
        if (resolved.exact !== undefined) {
          this.problem(
            'number.unrepresentable',
            node.range[0],
            `integer ${resolved.exact} is beyond ±(2^53 - 1) and cannot be kept exactly; quote it if it is meant as text`,
          );
          return null;
        }
        return resolved.value;
      case 'float':
        if (!Number.isFinite(resolved.value)) {
          this.problem(
            'number.unrepresentable',
            node.range[0],
            `${node.source} (${resolved.value}) cannot be represented in JSON, so Kubernetes cannot take it; quote it if it is meant as text`,
          );
          return null;
        }
        return resolved.value;
      default: {
        const never: never = resolved;
        throw new Error(`unhandled scalar ${String(never)}`);
      }
    }
  }

  private seq(node: YAMLSeq.Parsed): unknown {
    if (!collectionTagOk(node, 'seq')) {
      this.problem('yaml.tag', node.range[0], unsupportedTag(node.tag as string));
      return null;
    }
    const out: unknown[] = [];
    node.items.forEach((item, index) => {
      this.path.push(index);
      out.push(this.node(item));
      this.path.pop();
    });
    return out;
  }

  /** The JSON field name of a key node, or undefined (with a problem) when it has none. */
  private key(node: ParsedNode | null, fallbackOffset: number): string | undefined {
    if (node === null) {
      this.problem('yaml.key', fallbackOffset, nullKey());
      return undefined;
    }
    let target: ParsedNode = node;
    if (isAlias(node)) {
      const entry = this.anchorFor(node);
      if (entry === undefined) return undefined;
      target = entry.node;
    }
    if (!isScalar(target)) {
      this.problem(
        'yaml.key',
        node.range[0],
        'a mapping or sequence cannot be a key: JSON field names are strings',
      );
      return undefined;
    }
    const result = resolveScalarNode(target);
    if (!result.ok) {
      this.problem(result.code, node.range[0], result.message);
      return undefined;
    }
    const key = keyString(result.resolved);
    if (!key.ok) {
      this.problem('yaml.key', node.range[0], key.message);
      return undefined;
    }
    return key.key;
  }

  private map(node: YAMLMap.Parsed): unknown {
    if (!collectionTagOk(node, 'map')) {
      this.problem('yaml.tag', node.range[0], unsupportedTag(node.tag as string));
      return null;
    }
    const out: Record<string, unknown> = {};
    const seen = new Map<string, number>();
    const merged: Record<string, unknown>[] = [];
    for (const pair of node.items as Pair<ParsedNode | null, ParsedNode | null>[]) {
      const keyNode = pair.key;
      const keyOffset = keyNode?.range[0] ?? pair.value?.range[0] ?? node.range[0];
      if (isMergeKey(keyNode)) {
        if (this.checkDuplicate(seen, '<<', keyOffset))
          this.mergeSources(pair.value, keyOffset, merged);
        continue;
      }
      const key = this.key(keyNode, keyOffset);
      if (key === undefined) continue;
      this.checkDuplicate(seen, key, keyOffset);
      this.path.push(key);
      setField(out, key, this.node(pair.value));
      this.path.pop();
    }
    // Explicit keys win over merged ones; earlier merge sources win over later ones.
    for (const source of merged) {
      for (const [key, value] of Object.entries(source)) {
        if (!Object.hasOwn(out, key)) setField(out, key, value);
      }
    }
    return out;
  }

  /** Records `key`; reports it (and returns false) when the mapping already has it. */
  private checkDuplicate(seen: Map<string, number>, key: string, offset: number): boolean {
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, offset);
      return true;
    }
    const firstLine = this.context.lines.origin(this.context.file, this.base + first).line;
    this.problem(
      'yaml.duplicate-key',
      offset,
      `duplicate key ${JSON.stringify(key)}: it is already defined at line ${firstLine}`,
      [...this.path, key],
    );
    return false;
  }

  /** `<<: *base`, `<<: {…}` or `<<: [*a, *b]`: the mappings to merge, in order. */
  private mergeSources(
    value: ParsedNode | null,
    keyOffset: number,
    out: Record<string, unknown>[],
  ): void {
    const one = (node: ParsedNode | null): void => {
      const offset = node?.range[0] ?? keyOffset;
      let merged: unknown = null;
      if (node !== null && isAlias(node)) {
        const entry = this.anchorFor(node);
        if (entry === undefined) return;
        if (!isMap(entry.node)) {
          this.problem('yaml.syntax', offset, mergeNeedsMap());
          return;
        }
        merged = this.expand(entry, offset);
      } else if (node !== null && isMap(node)) {
        this.path.push('<<');
        merged = this.node(node);
        this.path.pop();
      } else {
        this.problem('yaml.syntax', offset, mergeNeedsMap());
        return;
      }
      if (merged !== null && typeof merged === 'object' && !Array.isArray(merged)) {
        out.push(merged as Record<string, unknown>);
      }
    };
    if (value !== null && isSeq(value)) {
      for (const item of value.items) one(item);
    } else {
      one(value);
    }
  }
}

function nullKey(): string {
  const result = keyString({ type: 'null' });
  return result.ok ? '' : result.message;
}

function mergeNeedsMap(): string {
  return 'a merge key "<<" needs a mapping, an alias of one, or a list of those';
}

/** Builds the position index of a document, honouring aliases and merge keys as `ValueBuilder` does. */
class PositionBuilder {
  private readonly anchors = new Map<string, { node: ParsedNode; pos: PosNode }>();

  build(node: ParsedNode | null, fallback: number): PosNode {
    if (node === null) return { kind: 'scalar', offset: fallback };
    if (isAlias(node)) {
      return this.anchors.get(node.source)?.pos ?? { kind: 'scalar', offset: node.range[0] };
    }
    const offset = node.range[0];
    if (isMap(node)) {
      const pos: PosMap = { kind: 'map', offset, entries: new Map() };
      this.register(node, pos);
      this.fillMap(node, pos);
      return pos;
    }
    if (isSeq(node)) {
      const items: PosNode[] = [];
      const pos: PosNode = { kind: 'seq', offset, items };
      this.register(node, pos);
      for (const item of node.items) items.push(this.build(item, offset));
      return pos;
    }
    const pos: PosNode = { kind: 'scalar', offset };
    this.register(node, pos);
    return pos;
  }

  private register(node: ParsedNode, pos: PosNode): void {
    if (node.anchor !== undefined) this.anchors.set(node.anchor, { node, pos });
  }

  private keyOf(node: ParsedNode | null): string | undefined {
    if (node === null) return undefined;
    const target = isAlias(node) ? this.anchors.get(node.source)?.node : node;
    if (target === undefined || !isScalar(target)) return undefined;
    const result = resolveScalarNode(target);
    if (!result.ok) return undefined;
    const key = keyString(result.resolved);
    return key.ok ? key.key : undefined;
  }

  private fillMap(node: YAMLMap.Parsed, pos: PosMap): void {
    const merged: PosMap[] = [];
    for (const pair of node.items as Pair<ParsedNode | null, ParsedNode | null>[]) {
      const keyOffset = pair.key?.range[0] ?? node.range[0];
      if (isMergeKey(pair.key)) {
        const value = pair.value;
        const sources = value !== null && isSeq(value) ? value.items : [value];
        for (const source of sources) {
          const built = this.build(source, keyOffset);
          if (built.kind === 'map') merged.push(built);
        }
        continue;
      }
      const key = this.keyOf(pair.key);
      if (key === undefined) continue;
      const entry: PosEntry = { key: keyOffset, node: this.build(pair.value, keyOffset) };
      pos.entries.set(key, entry);
    }
    for (const source of merged) {
      for (const [key, entry] of source.entries) {
        if (!pos.entries.has(key)) pos.entries.set(key, entry);
      }
    }
  }
}

/**
 * A document the fast path (parse-fast.ts) read. It sits in its piece exactly as the full
 * reader would have found it, so `locate` re-parses that piece on first use, as for any other.
 */
export function fastYamlDocument(context: TextContext, document: FastDocument): RawDocument {
  const origin = { file: context.file, line: document.line, column: document.column };
  const piece = { start: document.start, end: document.end };
  return new YamlDocument(origin, document.value, context, piece, 0);
}

class YamlDocument implements RawDocument {
  private positions: PosNode | undefined;

  constructor(
    readonly origin: Origin,
    readonly value: unknown,
    private readonly context: TextContext,
    private readonly piece: Piece,
    private readonly index: number,
  ) {}

  locate(path: FieldPath): Origin {
    if (path.length === 0) return this.origin;
    this.positions ??= this.buildPositions();
    const offset = locateOffset(this.positions, path);
    return this.context.lines.origin(this.context.file, this.piece.start + offset);
  }

  /** Parses the piece again: keeping every syntax tree in memory would cost more than this. */
  private buildPositions(): PosNode {
    const source = this.context.text.slice(this.piece.start, this.piece.end);
    const composed = composePiece(source);
    const doc = 'docs' in composed ? composed.docs[this.index] : undefined;
    const contents = (doc?.contents ?? null) as ParsedNode | null;
    return new PositionBuilder().build(contents, contents?.range[0] ?? 0);
  }
}
