/**
 * From a file's bytes to text, as kubectl reads manifest files: it wraps every file in
 * `unicode.BOMOverride(unicode.UTF8.NewDecoder())` (k8s.io/cli-runtime FileVisitor), so a
 * UTF-8 BOM is dropped and a UTF-16 file with a BOM (little or big endian) is decoded. Without
 * a BOM the bytes must be UTF-8; kubectl would quietly turn bad bytes into U+FFFD, berth
 * reports them instead. NUL bytes mean a binary file (or UTF-16 without a BOM).
 */
import type { Origin, Problem } from '../model/problem.js';

export type DecodedText =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly problems: readonly Problem[] };

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Lines with invalid UTF-8 reported one by one; past this, the last problem counts the rest. */
const MAX_ENCODING_PROBLEMS = 10;

export function decodeManifestText(file: string, bytes: Uint8Array): DecodedText {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    return decodeUtf16(file, bytes, true);
  }
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    return decodeUtf16(file, bytes, false);
  }
  const start =
    bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const nul = bytes.indexOf(0, start);
  if (nul >= 0) {
    return {
      ok: false,
      problems: [
        {
          code: 'file.binary',
          origin: byteOrigin(file, bytes, start, nul),
          message: `binary content (a NUL byte at byte offset ${nul}); manifests are UTF-8 text (or UTF-16 with a byte order mark)`,
        },
      ],
    };
  }
  const body = start === 0 ? bytes : bytes.subarray(start);
  try {
    return { ok: true, text: UTF8.decode(body) };
  } catch {
    return { ok: false, problems: invalidUtf8Problems(file, bytes, start) };
  }
}

function decodeUtf16(file: string, bytes: Uint8Array, littleEndian: boolean): DecodedText {
  const units = Math.floor((bytes.length - 2) / 2);
  let text = '';
  let line = 1;
  let column = 1;
  const chunk: number[] = [];
  const flush = (): void => {
    text += String.fromCharCode(...chunk);
    chunk.length = 0;
  };
  const fail = (message: string): DecodedText => ({
    ok: false,
    problems: [{ code: 'file.encoding', origin: { file, line, column }, message }],
  });
  for (let i = 0; i < units; i++) {
    const at = 2 + 2 * i;
    const unit = littleEndian
      ? (bytes[at] as number) | ((bytes[at + 1] as number) << 8)
      : ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const nextAt = at + 2;
      const next =
        i + 1 < units
          ? littleEndian
            ? (bytes[nextAt] as number) | ((bytes[nextAt + 1] as number) << 8)
            : ((bytes[nextAt] as number) << 8) | (bytes[nextAt + 1] as number)
          : -1;
      if (next < 0xdc00 || next > 0xdfff) {
        return fail(`invalid UTF-16: unpaired surrogate at byte offset ${at}`);
      }
      chunk.push(unit, next);
      i++;
      column++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return fail(`invalid UTF-16: unpaired surrogate at byte offset ${at}`);
    } else if (unit === 0) {
      return {
        ok: false,
        problems: [
          {
            code: 'file.binary',
            origin: { file, line, column },
            message: `binary content (a NUL character at byte offset ${at})`,
          },
        ],
      };
    } else {
      chunk.push(unit);
      if (unit === 0x0a) {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    if (chunk.length >= 4096) flush();
  }
  flush();
  if ((bytes.length - 2) % 2 !== 0) {
    return fail('invalid UTF-16: the file ends in the middle of a character (odd byte count)');
  }
  return { ok: true, text };
}

/** Line and column (in characters) of a byte offset of UTF-8 text, counting from `start`. */
function byteOrigin(file: string, bytes: Uint8Array, start: number, offset: number): Origin {
  let line = 1;
  let lineStart = start;
  for (let i = start; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  let column = 1;
  for (let i = lineStart; i < offset; i++) {
    // Continuation bytes (10xxxxxx) do not start a character.
    if (((bytes[i] as number) & 0xc0) !== 0x80) column++;
  }
  return { file, line, column };
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there starts no valid one. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i] as number;
  if (b < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const c = bytes[i + k];
    return c !== undefined && c >= lo && c <= hi;
  };
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function invalidUtf8Problems(file: string, bytes: Uint8Array, start: number): Problem[] {
  const problems: Problem[] = [];
  let line = 1;
  let column = 1;
  let lastReportedLine = 0;
  let unreportedLines = 0;
  for (let i = start; i < bytes.length; ) {
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      if (line !== lastReportedLine) {
        lastReportedLine = line;
        if (problems.length < MAX_ENCODING_PROBLEMS) {
          const byte = (bytes[i] as number).toString(16).toUpperCase().padStart(2, '0');
          problems.push({
            code: 'file.encoding',
            origin: { file, line, column },
            message: `invalid UTF-8 (byte 0x${byte} at byte offset ${i}); save the file as UTF-8`,
          });
        } else {
          unreportedLines++;
        }
      }
      i++;
      column++;
      continue;
    }
    if (bytes[i] === 0x0a) {
      line++;
      column = 1;
    } else {
      column++;
    }
    i += length;
  }
  const last = problems[problems.length - 1];
  if (last !== undefined && unreportedLines > 0) {
    problems[problems.length - 1] = {
      ...last,
      message: `${last.message} (and ${unreportedLines} more line${unreportedLines === 1 ? '' : 's'} with invalid UTF-8)`,
    };
  }
  return problems;
}

/**
 * Offsets of a text to 1-based line and column. Columns count characters (Unicode code
 * points), as editors and go-yaml do; a tab is one column.
 */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(private readonly text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
      this.starts.push(i + 1);
    }
  }

  origin(file: string, offset: number): Origin {
    const at = Math.max(0, Math.min(offset, this.text.length));
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.starts[mid] as number) <= at) low = mid;
      else high = mid - 1;
    }
    const lineStart = this.starts[low] as number;
    let column = 1;
    for (let i = lineStart; i < at; i++) {
      const code = this.text.charCodeAt(i);
      // The second half of a surrogate pair belongs to the same character.
      if (code < 0xdc00 || code > 0xdfff || i === lineStart) column++;
      else if (this.text.charCodeAt(i - 1) < 0xd800 || this.text.charCodeAt(i - 1) > 0xdbff) {
        column++;
      }
    }
    return { file, line: low + 1, column };
  }
}
