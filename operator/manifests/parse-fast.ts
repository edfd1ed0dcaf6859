/**
 * A fast path for the YAML that real manifests are written in: one pass over the lines, no
 * syntax tree. The full reader (parse-yaml.ts: the `yaml` package's lexer, parser and
 * composer) costs about 100 µs for a 35-line manifest; this one a few µs.
 *
 * It returns the same JSON values as the full reader, or `undefined` ("not in my subset")
 * as soon as it meets anything it does not handle with certainty. The full reader stays the
 * only source of problems and positions: the fast path never reports anything, it steps aside.
 *
 * The subset:
 * - kubectl's document splitting at `---` lines (parse-yaml.ts `splitLikeKubectl`), comments,
 *   blank lines, LF or CRLF line ends;
 * - block mappings and block sequences: `- key: value` compact nesting, sequences at the
 *   same indent as their parent key; the document root is a mapping or a sequence;
 * - one-line scalars: plain (resolved by parse-scalar.ts as go-yaml v2 does), single-quoted,
 *   double-quoted with the escapes `\" \\ \n \t`;
 * - flow sequences and mappings opened and closed on one line, holding only scalars;
 * - literal block scalars `|` and `|-` without an indentation indicator (shell scripts in
 *   `command`/`args` are written this way).
 *
 * Everything else makes it step aside: anchors, aliases, tags, folded scalars, multi-line
 * plain or quoted scalars, nested or multi-line flow collections, complex keys, directives,
 * `...`, tabs, control characters, duplicate and merge keys, null keys, unrepresentable
 * numbers, nesting near MAX_NESTING_DEPTH, and any indentation it does not recognise.
 */
import { keyString, type Resolved, resolvePlain } from './parse-scalar.js';
import { MAX_NESTING_DEPTH } from './parse-yaml.js';

/** One document read by the fast path. */
export interface FastDocument {
  /** Plain JSON data, equal to what the full reader builds. */
  readonly value: unknown;
  /** 1-based line and column of the document's root node (its first key or `-`). */
  readonly line: number;
  readonly column: number;
  /** Offsets of the piece of text between `---` lines that holds the document. */
  readonly start: number;
  readonly end: number;
}

/**
 * Characters that send a file to the full reader wherever they stand: tabs (indentation and
 * separation rules differ), C0/C1 controls and DEL, a BOM past the start, the Unicode line
 * separators, and a carriage return that is not part of CRLF.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const OUTSIDE_SUBSET = /[\t\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u2028\u2029]|\r(?!\n)/;

/** The implicit-key length limit of YAML is 1024; stay clear of it. */
const MAX_KEY_LENGTH = 1000;

const CR = 13;
const SPACE = 32;
const DOUBLE_QUOTE = 34;
const HASH = 35;
const SINGLE_QUOTE = 39;
const COMMA = 44;
const DASH = 45;
const COLON = 58;
const BRACKET_OPEN = 91;
const BACKSLASH = 92;
const BRACKET_CLOSE = 93;
const BRACE_OPEN = 123;
const PIPE = 124;
const BRACE_CLOSE = 125;

/** ASCII characters that cannot start a plain scalar here (YAML indicators, reserved ones). */
const NOT_PLAIN_FIRST = new Uint8Array(128);
for (const c of '-?:,[]{}#&*!|>\'"%@`') NOT_PLAIN_FIRST[c.charCodeAt(0)] = 1;
/** ASCII characters the fast path does not accept inside plain scalars of flow collections. */
const NOT_IN_FLOW_PLAIN = new Uint8Array(128);
for (const c of ',[]{}#:\'"') NOT_IN_FLOW_PLAIN[c.charCodeAt(0)] = 1;
/** ASCII characters the fast path does not accept inside plain block mapping keys. */
const NOT_IN_PLAIN_KEY = new Uint8Array(128);
for (const c of ',[]{}\'"') NOT_IN_PLAIN_KEY[c.charCodeAt(0)] = 1;

/** Thrown (one shared instance, no stack capture per bail) when the text leaves the subset. */
class OutsideSubset extends Error {}
const OUTSIDE = new OutsideSubset('outside the fast YAML subset');

function outside(): never {
  throw OUTSIDE;
}

type Container = Record<string, unknown> | unknown[];

interface MapFrame {
  readonly kind: 'map';
  /** Column (0-based) of the keys. */
  readonly indent: number;
  readonly value: Record<string, unknown>;
}

interface SeqFrame {
  readonly kind: 'seq';
  /** Column (0-based) of the `-` indicators. */
  readonly indent: number;
  readonly value: unknown[];
}

type Frame = MapFrame | SeqFrame;

/** A literal block scalar being collected line by line. */
interface BlockScalar {
  readonly container: Container;
  readonly key: string | number;
  /** Indent of the collection holding it: content must be indented more. */
  readonly parentIndent: number;
  readonly strip: boolean;
  /** Content indent, from the first non-blank line; -1 until then. */
  indent: number;
  /** Most spaces on a blank line before the first content line. */
  leadingSpaces: number;
  /** Content lines with the indent removed; blank lines as ''. */
  readonly lines: string[];
  lastContentEndsLine: boolean;
}

/** Reads `text` (decoded, BOM removed) or returns undefined when it is outside the subset. */
export function readYamlFast(text: string): FastDocument[] | undefined {
  if (OUTSIDE_SUBSET.test(text)) return undefined;
  try {
    return new FastYamlReader(text).read();
  } catch (error) {
    if (error === OUTSIDE) return undefined;
    throw error;
  }
}

function put(container: Container, key: string | number, value: unknown): void {
  if (Array.isArray(container)) container[key as number] = value;
  else container[key as string] = value;
}

/** A resolved plain scalar as JSON, as the full reader converts it; outside when it reports. */
function scalarJson(resolved: Resolved): unknown {
  switch (resolved.type) {
    case 'null':
      return null;
    case 'bool':
    case 'str':
      return resolved.value;
    case 'int':
      if (resolved.exact !== undefined) outside();
      return resolved.value;
    case 'float':
      if (!Number.isFinite(resolved.value)) outside();
      return resolved.value;
    default: {
      const never: never = resolved;
      throw new Error(`unhandled scalar ${String(never)}`);
    }
  }
}

/** The JSON field name of a key, as the full reader converts it; outside when it reports. */
function fieldName(name: string, plain: boolean): string {
  // `<<` is a merge key; `__proto__` needs the full reader's own-property handling.
  if (plain && name === '<<') outside();
  let key = name;
  if (plain) {
    const converted = keyString(resolvePlain(name));
    if (!converted.ok) outside();
    key = converted.key;
  }
  if (key === '__proto__') outside();
  return key;
}

class FastYamlReader {
  private readonly documents: FastDocument[] = [];
  private readonly stack: Frame[] = [];
  private rootLine = 0;
  private rootColumn = 0;
  private pieceStart = 0;

  private lineNumber = 0;
  private lineStart = 0;
  /** End of the line's content (before `\r\n` or `\n`). */
  private lineEnd = 0;
  private endsLine = false;

  /** Indent of a key or `-` with nothing after it on its line; -1 when there is none. */
  private pendingIndent = -1;
  private pendingIsKey = false;
  private pendingContainer: Container = [];
  private pendingKey: string | number = 0;

  private block: BlockScalar | undefined;

  /** Set by the scalar and flow readers: the offset just past what they read. */
  private scanEnd = 0;
  /** Set by `key`: the field name and the offset just past its `:`. */
  private keyName = '';
  private keyEnd = 0;

  constructor(private readonly text: string) {}

  read(): FastDocument[] {
    const text = this.text;
    let start = 0;
    for (let line = 1; ; line++) {
      const newline = text.indexOf('\n', start);
      const end = newline === -1 ? text.length : newline;
      this.lineNumber = line;
      this.lineStart = start;
      this.lineEnd = end > start && text.charCodeAt(end - 1) === CR ? end - 1 : end;
      this.endsLine = newline !== -1;
      if (text.startsWith('---', start)) {
        // kubectl's separator rule, as parse-yaml.ts applies it.
        const rest = text.slice(start + 3, end).trim();
        if (rest !== '' && !rest.startsWith('#')) outside();
        this.endDocument(start);
        this.pieceStart = newline === -1 ? text.length : newline + 1;
      } else if (text.startsWith('...', start)) {
        outside();
      } else {
        this.readLine();
      }
      if (newline === -1) break;
      start = newline + 1;
    }
    this.endDocument(text.length);
    return this.documents;
  }

  private endDocument(end: number): void {
    if (this.block !== undefined) this.endBlock();
    const root = this.stack[0];
    if (root !== undefined) {
      this.documents.push({
        value: root.value,
        line: this.rootLine,
        column: this.rootColumn,
        start: this.pieceStart,
        end,
      });
    }
    this.stack.length = 0;
    this.pendingIndent = -1;
  }

  private skipSpaces(from: number): number {
    let i = from;
    while (i < this.lineEnd && this.text.charCodeAt(i) === SPACE) i++;
    return i;
  }

  private readLine(): void {
    if (this.block !== undefined && this.blockLine()) return;
    const p = this.skipSpaces(this.lineStart);
    if (p === this.lineEnd) return;
    if (this.text.charCodeAt(p) === HASH) return;
    this.content(p - this.lineStart, p);
  }

  /** A `-` indicator at `p`: followed by a space or the end of the line. */
  private isItem(p: number): boolean {
    return (
      this.text.charCodeAt(p) === DASH &&
      (p + 1 === this.lineEnd || this.text.charCodeAt(p + 1) === SPACE)
    );
  }

  private pushFrame(frame: Frame): void {
    // The full reader refuses documents nested deeper than MAX_NESTING_DEPTH; stay clear.
    if (this.stack.length + 1 >= MAX_NESTING_DEPTH) outside();
    this.stack.push(frame);
  }

  /** Pops the collections the line at `indent` closes and returns the one it belongs to. */
  private frameFor(indent: number, isItem: boolean): Frame {
    const stack = this.stack;
    let top = stack[stack.length - 1] as Frame;
    // A key at the indent of a sequence ends it: that sequence sat under its parent's key.
    while (
      stack.length > 1 &&
      (top.indent > indent || (!isItem && top.kind === 'seq' && top.indent === indent))
    ) {
      stack.pop();
      top = stack[stack.length - 1] as Frame;
    }
    if (top.indent !== indent || (top.kind === 'seq') !== isItem) outside();
    return top;
  }

  private content(indent: number, p: number): void {
    const isItem = this.isItem(p);
    if (this.pendingIndent >= 0) {
      const nested =
        indent > this.pendingIndent ||
        (isItem && indent === this.pendingIndent && this.pendingIsKey);
      if (nested) {
        const frame: Frame = isItem
          ? { kind: 'seq', indent, value: [] }
          : { kind: 'map', indent, value: {} };
        this.pushFrame(frame);
        put(this.pendingContainer, this.pendingKey, frame.value);
      }
      this.pendingIndent = -1;
    } else if (this.stack.length === 0) {
      this.rootLine = this.lineNumber;
      this.rootColumn = indent + 1;
      this.pushFrame(
        isItem ? { kind: 'seq', indent, value: [] } : { kind: 'map', indent, value: {} },
      );
    }
    const frame = this.frameFor(indent, isItem);
    if (frame.kind === 'seq') {
      this.item(frame, p + 1);
    } else {
      if (!this.key(p)) outside();
      this.entry(frame);
    }
  }

  private setPending(indent: number, isKey: boolean, container: Container, key: string | number) {
    this.pendingIndent = indent;
    this.pendingIsKey = isKey;
    this.pendingContainer = container;
    this.pendingKey = key;
  }

  /** The rest of a sequence item line, after its `-`. */
  private item(frame: SeqFrame, afterDash: number): void {
    const text = this.text;
    const r = this.skipSpaces(afterDash);
    const index = frame.value.length;
    frame.value.push(null);
    if (r === this.lineEnd || text.charCodeAt(r) === HASH) {
      this.setPending(frame.indent, false, frame.value, index);
      return;
    }
    if (this.isItem(r)) outside();
    if (this.key(r)) {
      const map: MapFrame = { kind: 'map', indent: r - this.lineStart, value: {} };
      this.pushFrame(map);
      frame.value[index] = map.value;
      this.entry(map);
      return;
    }
    this.value(frame.value, index, r, frame.indent);
  }

  /** A mapping entry whose key `key` has just read. */
  private entry(frame: MapFrame): void {
    const name = this.keyName;
    const map = frame.value;
    if (Object.hasOwn(map, name)) outside();
    map[name] = null;
    const r = this.skipSpaces(this.keyEnd);
    if (r === this.lineEnd || this.text.charCodeAt(r) === HASH) {
      this.setPending(frame.indent, true, map, name);
      return;
    }
    this.value(map, name, r, frame.indent);
  }

  /**
   * An implicit key at `p` followed by `:` and a space or the line end: sets `keyName` and
   * `keyEnd` and returns true. False when the text there is no key (a value, or a scalar line).
   */
  private key(p: number): boolean {
    const text = this.text;
    const end = this.lineEnd;
    const c = text.charCodeAt(p);
    if (c === DOUBLE_QUOTE || c === SINGLE_QUOTE) {
      const name = c === DOUBLE_QUOTE ? this.doubleQuoted(p) : this.singleQuoted(p);
      const colon = this.skipSpaces(this.scanEnd);
      if (colon === end || text.charCodeAt(colon) !== COLON) return false;
      if (colon + 1 < end && text.charCodeAt(colon + 1) !== SPACE) return false;
      if (colon - p > MAX_KEY_LENGTH) outside();
      this.keyName = fieldName(name, false);
      this.keyEnd = colon + 1;
      return true;
    }
    if (!this.plainFirst(p, false)) return false;
    let unusual = false;
    let i = p;
    for (; i < end; i++) {
      const ch = text.charCodeAt(i);
      if (ch === COLON && (i + 1 === end || text.charCodeAt(i + 1) === SPACE)) break;
      if (ch === HASH && text.charCodeAt(i - 1) === SPACE) return false;
      if (ch < 128 && NOT_IN_PLAIN_KEY[ch] === 1) unusual = true;
    }
    if (i === end) return false;
    if (unusual || i - p > MAX_KEY_LENGTH) outside();
    let last = i;
    while (text.charCodeAt(last - 1) === SPACE) last--;
    this.keyName = fieldName(text.slice(p, last), true);
    this.keyEnd = i + 1;
    return true;
  }

  /** Whether a plain scalar may start at `p` (conservatively: `?` and `:` never do). */
  private plainFirst(p: number, flow: boolean): boolean {
    const c = this.text.charCodeAt(p);
    if (c === DASH) {
      if (p + 1 >= this.lineEnd) return false;
      const next = this.text.charCodeAt(p + 1);
      return next !== SPACE && !(flow && next < 128 && NOT_IN_FLOW_PLAIN[next] === 1);
    }
    return c >= 128 || NOT_PLAIN_FIRST[c] !== 1;
  }

  /** A value starting at `r` on the current line, stored at `container[key]`. */
  private value(container: Container, key: string | number, r: number, parentIndent: number) {
    const text = this.text;
    let value: unknown;
    switch (text.charCodeAt(r)) {
      case DOUBLE_QUOTE:
        value = this.doubleQuoted(r);
        this.trailer(this.scanEnd);
        break;
      case SINGLE_QUOTE:
        value = this.singleQuoted(r);
        this.trailer(this.scanEnd);
        break;
      case BRACKET_OPEN:
        value = this.flowSequence(r);
        this.trailer(this.scanEnd);
        break;
      case BRACE_OPEN:
        value = this.flowMapping(r);
        this.trailer(this.scanEnd);
        break;
      case PIPE:
        this.blockHeader(container, key, r, parentIndent);
        return;
      default:
        if (!this.plainFirst(r, false)) outside();
        value = this.plainValue(r);
    }
    put(container, key, value);
  }

  /** After a complete value: only spaces and a comment may follow. */
  private trailer(from: number): void {
    const i = this.skipSpaces(from);
    if (i === this.lineEnd) return;
    if (this.text.charCodeAt(i) === HASH && i > from) return;
    outside();
  }

  /** A one-line plain scalar in block context, starting at `r`. */
  private plainValue(r: number): unknown {
    const text = this.text;
    const end = this.lineEnd;
    let stop = end;
    for (let i = r; i < end; i++) {
      const ch = text.charCodeAt(i);
      if (ch === COLON) {
        // `a: b: c` is a syntax error; a multi-line or odd value is the full reader's.
        if (i + 1 === end || text.charCodeAt(i + 1) === SPACE) outside();
      } else if (ch === HASH && text.charCodeAt(i - 1) === SPACE) {
        stop = i;
        break;
      }
    }
    while (text.charCodeAt(stop - 1) === SPACE) stop--;
    return scalarJson(resolvePlain(text.slice(r, stop)));
  }

  private singleQuoted(p: number): string {
    const text = this.text;
    let out = '';
    let from = p + 1;
    for (;;) {
      const quote = text.indexOf("'", from);
      if (quote === -1 || quote >= this.lineEnd) outside();
      if (quote + 1 < this.lineEnd && text.charCodeAt(quote + 1) === SINGLE_QUOTE) {
        out += text.slice(from, quote + 1);
        from = quote + 2;
        continue;
      }
      this.scanEnd = quote + 1;
      return out + text.slice(from, quote);
    }
  }

  private doubleQuoted(p: number): string {
    const text = this.text;
    let out = '';
    let from = p + 1;
    for (let i = from; i < this.lineEnd; i++) {
      const ch = text.charCodeAt(i);
      if (ch === DOUBLE_QUOTE) {
        this.scanEnd = i + 1;
        return out + text.slice(from, i);
      }
      if (ch === BACKSLASH) {
        let escaped: string;
        switch (text.charCodeAt(i + 1)) {
          case DOUBLE_QUOTE:
            escaped = '"';
            break;
          case BACKSLASH:
            escaped = '\\';
            break;
          case 110: // n
            escaped = '\n';
            break;
          case 116: // t
            escaped = '\t';
            break;
          default:
            return outside();
        }
        out += text.slice(from, i) + escaped;
        i++;
        from = i + 1;
      }
    }
    return outside();
  }

  /** A scalar inside a one-line flow collection, up to `,`, `]` or `}`. */
  private flowScalar(r: number): unknown {
    const text = this.text;
    const c = text.charCodeAt(r);
    if (c === DOUBLE_QUOTE) return this.doubleQuoted(r);
    if (c === SINGLE_QUOTE) return this.singleQuoted(r);
    if (r >= this.lineEnd || !this.plainFirst(r, true)) outside();
    let i = r;
    for (; i < this.lineEnd; i++) {
      const ch = text.charCodeAt(i);
      if (ch === COMMA || ch === BRACKET_CLOSE || ch === BRACE_CLOSE) break;
      if (ch < 128 && NOT_IN_FLOW_PLAIN[ch] === 1) outside();
    }
    this.scanEnd = i;
    let stop = i;
    while (text.charCodeAt(stop - 1) === SPACE) stop--;
    return scalarJson(resolvePlain(text.slice(r, stop)));
  }

  /** After a flow item: `,` and the next item, or the closing bracket. */
  private flowNext(from: number, close: number): boolean {
    const i = this.skipSpaces(from);
    const ch = this.text.charCodeAt(i);
    if (i < this.lineEnd && ch === close) {
      this.scanEnd = i + 1;
      return false;
    }
    if (i >= this.lineEnd || ch !== COMMA) outside();
    const next = this.skipSpaces(i + 1);
    // A trailing comma, or nothing after it: leave it to the full reader.
    if (next >= this.lineEnd || this.text.charCodeAt(next) === close) outside();
    this.scanEnd = next;
    return true;
  }

  private flowSequence(p: number): unknown[] {
    if (this.stack.length + 1 >= MAX_NESTING_DEPTH) outside();
    const out: unknown[] = [];
    const first = this.skipSpaces(p + 1);
    if (first < this.lineEnd && this.text.charCodeAt(first) === BRACKET_CLOSE) {
      this.scanEnd = first + 1;
      return out;
    }
    let i = first;
    for (;;) {
      out.push(this.flowScalar(i));
      if (!this.flowNext(this.scanEnd, BRACKET_CLOSE)) return out;
      i = this.scanEnd;
    }
  }

  private flowMapping(p: number): Record<string, unknown> {
    if (this.stack.length + 1 >= MAX_NESTING_DEPTH) outside();
    const text = this.text;
    const out: Record<string, unknown> = {};
    const first = this.skipSpaces(p + 1);
    if (first < this.lineEnd && text.charCodeAt(first) === BRACE_CLOSE) {
      this.scanEnd = first + 1;
      return out;
    }
    let i = first;
    for (;;) {
      const c = text.charCodeAt(i);
      let name: string;
      let colon: number;
      if (c === DOUBLE_QUOTE || c === SINGLE_QUOTE) {
        const quoted = c === DOUBLE_QUOTE ? this.doubleQuoted(i) : this.singleQuoted(i);
        colon = this.skipSpaces(this.scanEnd);
        name = fieldName(quoted, false);
      } else {
        if (i >= this.lineEnd || !this.plainFirst(i, true)) outside();
        colon = i;
        while (colon < this.lineEnd && text.charCodeAt(colon) !== COLON) {
          const ch = text.charCodeAt(colon);
          if (ch < 128 && NOT_IN_FLOW_PLAIN[ch] === 1) outside();
          colon++;
        }
        let last = colon;
        while (text.charCodeAt(last - 1) === SPACE) last--;
        name = fieldName(text.slice(i, last), true);
      }
      if (colon + 1 >= this.lineEnd || text.charCodeAt(colon) !== COLON) outside();
      if (text.charCodeAt(colon + 1) !== SPACE) outside();
      if (Object.hasOwn(out, name)) outside();
      out[name] = this.flowScalar(this.skipSpaces(colon + 1));
      if (!this.flowNext(this.scanEnd, BRACE_CLOSE)) return out;
      i = this.scanEnd;
    }
  }

  /** `|` or `|-` (with an optional comment); the content follows on the next lines. */
  private blockHeader(container: Container, key: string | number, r: number, parentIndent: number) {
    let i = r + 1;
    let strip = false;
    if (i < this.lineEnd && this.text.charCodeAt(i) === DASH) {
      strip = true;
      i++;
    }
    this.trailer(i);
    put(container, key, null);
    this.block = {
      container,
      key,
      parentIndent,
      strip,
      indent: -1,
      leadingSpaces: 0,
      lines: [],
      lastContentEndsLine: false,
    };
  }

  /** Takes the current line into the block scalar; false when the line ends the scalar. */
  private blockLine(): boolean {
    const block = this.block as BlockScalar;
    const p = this.skipSpaces(this.lineStart);
    const spaces = p - this.lineStart;
    if (p === this.lineEnd) {
      if (block.indent < 0) {
        block.leadingSpaces = Math.max(block.leadingSpaces, spaces);
      } else if (spaces > block.indent) {
        // Spaces past the indent on a blank line are content; leave that to the full reader.
        outside();
      }
      block.lines.push('');
      return true;
    }
    if (block.indent < 0) {
      if (spaces <= block.parentIndent) {
        this.endBlock();
        return false;
      }
      // More-indented leading blank lines need an indentation indicator.
      if (block.leadingSpaces > spaces) outside();
      block.indent = spaces;
    } else if (spaces < block.indent) {
      this.endBlock();
      return false;
    }
    block.lines.push(this.text.slice(this.lineStart + block.indent, this.lineEnd));
    block.lastContentEndsLine = this.endsLine;
    return true;
  }

  private endBlock(): void {
    const block = this.block as BlockScalar;
    this.block = undefined;
    const lines = block.lines;
    let count = lines.length;
    while (count > 0 && lines[count - 1] === '') count--;
    // An empty block scalar, or one whose last line has no line break: the full reader's.
    if (block.indent < 0 || !block.lastContentEndsLine) outside();
    if (count < lines.length) lines.length = count;
    const body = lines.join('\n');
    put(block.container, block.key, block.strip ? body : `${body}\n`);
  }
}
