/**
 * `.json` manifest files: one JSON value (RFC 8259), read with positions. A small reader of
 * its own rather than `JSON.parse`, because berth needs what `JSON.parse` hides: the line and
 * column of a syntax error, duplicate keys (last one silently wins there; the API server's
 * strict decoding refuses them) and integers that a double cannot hold exactly.
 */

import { setField } from '../model/json.js';
import { type FieldPath, formatFieldPath, type Origin, type Problem } from '../model/problem.js';
import { locateOffset, type PosMap, type PosNode } from './parse-positions.js';
import type { LineIndex } from './parse-text.js';
import { MAX_NESTING_DEPTH } from './parse-yaml.js';
import type { RawDocument } from './types.js';

interface TextContext {
  readonly file: string;
  readonly text: string;
  readonly lines: LineIndex;
}

export interface ParsedJson {
  readonly documents: RawDocument[];
  readonly problems: Problem[];
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;

function describe(char: string | undefined): string {
  if (char === undefined) return 'end of file';
  const code = char.codePointAt(0) as number;
  if (code < 0x20 || code === 0x7f) {
    return `character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return JSON.stringify(char);
}

class JsonReader {
  readonly problems: Problem[] = [];
  private at = 0;
  private readonly path: (string | number)[] = [];

  constructor(
    private readonly context: TextContext,
    private readonly withPositions: boolean,
  ) {}

  /** The value, its positions (when asked for), or undefined when the text holds no value. */
  read(): { value: unknown; positions: PosNode | undefined; offset: number } | undefined {
    this.skipSpace();
    if (this.at >= this.context.text.length) return undefined;
    const offset = this.at;
    const [value, positions] = this.value();
    this.skipSpace();
    if (this.at < this.context.text.length) {
      throw new JsonSyntaxError(
        this.at,
        `unexpected ${describe(this.peek())} after the JSON value; a .json manifest holds one value`,
      );
    }
    return { value, positions, offset };
  }

  private peek(): string | undefined {
    return this.context.text[this.at];
  }

  private skipSpace(): void {
    const text = this.context.text;
    while (this.at < text.length) {
      const c = text.charCodeAt(this.at);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.at++;
    }
  }

  private expected(what: string): JsonSyntaxError {
    return new JsonSyntaxError(this.at, `unexpected ${describe(this.peek())}; expected ${what}`);
  }

  private problem(
    code: 'json.duplicate-key' | 'number.unrepresentable',
    offset: number,
    message: string,
    field: FieldPath,
  ): void {
    this.problems.push({
      code,
      origin: this.context.lines.origin(this.context.file, offset),
      ...(field.length > 0 ? { field: formatFieldPath(field) } : {}),
      message,
    });
  }

  private value(): [unknown, PosNode | undefined] {
    const offset = this.at;
    const char = this.peek();
    switch (char) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return [this.string(), this.scalarAt(offset)];
      case 't':
        return [this.word('true', true), this.scalarAt(offset)];
      case 'f':
        return [this.word('false', false), this.scalarAt(offset)];
      case 'n':
        return [this.word('null', null), this.scalarAt(offset)];
      default:
        if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) {
          return [this.number(), this.scalarAt(offset)];
        }
        throw this.expected('a value');
    }
  }

  private scalarAt(offset: number): PosNode | undefined {
    return this.withPositions ? { kind: 'scalar', offset } : undefined;
  }

  private enter(offset: number): void {
    if (this.path.length >= MAX_NESTING_DEPTH) {
      throw new JsonSyntaxError(
        offset,
        `objects and arrays are nested more than ${MAX_NESTING_DEPTH} levels deep; berth does not read this file`,
      );
    }
  }

  private object(): [unknown, PosNode | undefined] {
    const offset = this.at;
    this.enter(offset);
    this.at++;
    const out: Record<string, unknown> = {};
    const pos: PosMap | undefined = this.withPositions
      ? { kind: 'map', offset, entries: new Map() }
      : undefined;
    const seen = new Map<string, number>();
    this.skipSpace();
    if (this.peek() === '}') {
      this.at++;
      return [out, pos];
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== '"') throw this.expected('a string key in double quotes');
      const keyOffset = this.at;
      const key = this.string();
      this.skipSpace();
      if (this.peek() !== ':') throw this.expected('":" after the key');
      this.at++;
      this.skipSpace();
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, keyOffset);
      } else {
        const line = this.context.lines.origin(this.context.file, first).line;
        this.problem(
          'json.duplicate-key',
          keyOffset,
          `duplicate key ${JSON.stringify(key)}: it is already defined at line ${line}`,
          [...this.path, key],
        );
      }
      this.path.push(key);
      const [value, valuePos] = this.value();
      this.path.pop();
      setField(out, key, value);
      if (pos !== undefined && valuePos !== undefined) {
        pos.entries.set(key, { key: keyOffset, node: valuePos });
      }
      this.skipSpace();
      const next = this.peek();
      if (next === ',') {
        this.at++;
        continue;
      }
      if (next === '}') {
        this.at++;
        return [out, pos];
      }
      throw this.expected('"," or "}"');
    }
  }

  private array(): [unknown, PosNode | undefined] {
    const offset = this.at;
    this.enter(offset);
    this.at++;
    const out: unknown[] = [];
    const items: PosNode[] = [];
    this.skipSpace();
    if (this.peek() === ']') {
      this.at++;
      return [out, this.withPositions ? { kind: 'seq', offset, items } : undefined];
    }
    for (;;) {
      this.skipSpace();
      this.path.push(out.length);
      const [value, valuePos] = this.value();
      this.path.pop();
      out.push(value);
      if (valuePos !== undefined) items.push(valuePos);
      this.skipSpace();
      const next = this.peek();
      if (next === ',') {
        this.at++;
        continue;
      }
      if (next === ']') {
        this.at++;
        return [out, this.withPositions ? { kind: 'seq', offset, items } : undefined];
      }
      throw this.expected('"," or "]"');
    }
  }

  private word<T>(word: string, value: T): T {
    if (!this.context.text.startsWith(word, this.at)) throw this.expected('a value');
    this.at += word.length;
    return value;
  }

  private number(): number | null {
    const offset = this.at;
    NUMBER.lastIndex = offset;
    const match = NUMBER.exec(this.context.text);
    if (match === null) throw this.expected('a digit');
    this.at = offset + match[0].length;
    const text = match[0];
    const value = Number(text);
    const isInteger = match[1] === undefined && match[2] === undefined;
    if (isInteger && !Number.isSafeInteger(value)) {
      const exact = BigInt(text);
      if (exact > MAX_SAFE || exact < -MAX_SAFE) {
        this.problem(
          'number.unrepresentable',
          offset,
          `integer ${text} is beyond ±(2^53 - 1) and cannot be kept exactly`,
          this.path,
        );
        return null;
      }
    }
    if (!Number.isFinite(value)) {
      this.problem(
        'number.unrepresentable',
        offset,
        `number ${text} is beyond the range of a double`,
        this.path,
      );
      return null;
    }
    return value;
  }

  private string(): string {
    const text = this.context.text;
    const start = this.at;
    this.at++;
    let out = '';
    let runStart = this.at;
    for (;;) {
      if (this.at >= text.length) throw new JsonSyntaxError(start, 'unterminated string');
      const c = text.charCodeAt(this.at);
      if (c === 0x22) {
        out += text.slice(runStart, this.at);
        this.at++;
        return out;
      }
      if (c < 0x20) {
        throw new JsonSyntaxError(
          this.at,
          `${describe(text[this.at])} inside a string; write it as an escape such as \\n`,
        );
      }
      if (c !== 0x5c) {
        this.at++;
        continue;
      }
      out += text.slice(runStart, this.at);
      const escaped = text[this.at + 1];
      switch (escaped) {
        case '"':
        case '\\':
        case '/':
          out += escaped;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(this.at + 2, this.at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            throw new JsonSyntaxError(this.at, 'invalid \\u escape: four hex digits must follow');
          }
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.at += 4;
          break;
        }
        default:
          throw new JsonSyntaxError(this.at, `invalid escape \\${escaped ?? ''} in a string`);
      }
      this.at += 2;
      runStart = this.at;
    }
  }
}

class JsonDocument implements RawDocument {
  private positions: PosNode | undefined;

  constructor(
    readonly origin: Origin,
    readonly value: unknown,
    private readonly context: TextContext,
  ) {}

  locate(path: FieldPath): Origin {
    if (path.length === 0) return this.origin;
    // Read again, this time keeping positions: most documents never need them.
    this.positions ??= new JsonReader(this.context, true).read()?.positions ?? {
      kind: 'scalar',
      offset: 0,
    };
    return this.context.lines.origin(this.context.file, locateOffset(this.positions, path));
  }
}

export function parseJsonText(context: TextContext): ParsedJson {
  const reader = new JsonReader(context, false);
  try {
    const result = reader.read();
    if (reader.problems.length > 0) return { documents: [], problems: reader.problems };
    // An empty file or a `null` holds no object, as kubectl skips them.
    if (result === undefined || result.value === null) return { documents: [], problems: [] };
    const origin = context.lines.origin(context.file, result.offset);
    return { documents: [new JsonDocument(origin, result.value, context)], problems: [] };
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return {
      documents: [],
      problems: [
        ...reader.problems,
        {
          code: 'json.syntax',
          origin: context.lines.origin(context.file, error.offset),
          message: error.message,
        },
      ],
    };
  }
}
