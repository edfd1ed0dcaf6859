/**
 * Parsing git tree objects: `<mode> <name>\0<20-byte id>` repeated, in git's order. A tree
 * that differs from one parsed before in a few entries (the usual commit) is parsed
 * incrementally: the bytes both share at the start and at the end are not parsed again, and
 * their entry objects are reused. A 10,000-entry folder with one changed file then costs a
 * comparison of two buffers instead of 10,000 new entries.
 */
import { BerthError } from '../model/errors.js';

/** `other` is a mode git does not write today; such entries are skipped like submodules. */
export type TreeEntryKind = 'blob' | 'tree' | 'symlink' | 'submodule' | 'other';

export interface TreeEntry {
  readonly name: string;
  readonly kind: TreeEntryKind;
  readonly oid: string;
}

export interface ParsedTree {
  readonly oid: string;
  /** The object's content, kept so the next version of this folder can be compared with it. */
  readonly raw: Buffer;
  readonly entries: readonly TreeEntry[];
  /** Byte offset in `raw` where each entry starts. */
  readonly starts: readonly number[];
}

/** A tree and how much of it equals a previous one: entries [0, samePrefix) and the last sameSuffix. */
export interface TreeComparison {
  readonly tree: ParsedTree;
  readonly samePrefix: number;
  readonly sameSuffix: number;
}

export function parseTree(raw: Buffer, oid: string): ParsedTree {
  const entries: TreeEntry[] = [];
  const starts: number[] = [];
  parseEntries(raw, 0, raw.length, oid, entries, starts);
  return { oid, raw, entries, starts };
}

/** Parses `raw`, reusing what it shares with `previous` (same folder, earlier commit). */
export function parseTreeAfter(
  raw: Buffer,
  oid: string,
  previous: ParsedTree | undefined,
): TreeComparison {
  if (previous === undefined || previous.entries.length === 0) {
    return { tree: parseTree(raw, oid), samePrefix: 0, sameSuffix: 0 };
  }
  const old = previous.raw;
  const count = previous.entries.length;
  const prefixBytes = commonPrefixLength(raw, old);
  const suffixBytes = commonSuffixLength(raw, old, Math.min(raw.length, old.length) - prefixBytes);
  const endOf = (i: number) => (i + 1 < count ? (previous.starts[i + 1] as number) : old.length);

  // Entries wholly inside the shared start: [0, samePrefix).
  let samePrefix = 0;
  while (samePrefix < count && endOf(samePrefix) <= prefixBytes) samePrefix += 1;
  // Entries wholly inside the shared end: [firstSuffix, count).
  let firstSuffix = count;
  while (
    firstSuffix > samePrefix &&
    (previous.starts[firstSuffix - 1] as number) >= old.length - suffixBytes
  ) {
    firstSuffix -= 1;
  }

  const entries: TreeEntry[] = previous.entries.slice(0, samePrefix);
  const starts: number[] = previous.starts.slice(0, samePrefix);
  const middleStart = samePrefix < count ? (previous.starts[samePrefix] as number) : old.length;
  const shift = raw.length - old.length;
  const suffixStart =
    firstSuffix < count ? (previous.starts[firstSuffix] as number) + shift : raw.length;
  const end = parseEntries(raw, middleStart, suffixStart, oid, entries, starts);
  if (end !== suffixStart) {
    // The changed entries ran past where the shared end seemed to begin: parse the rest too.
    parseEntries(raw, end, raw.length, oid, entries, starts);
    return { tree: { oid, raw, entries, starts }, samePrefix, sameSuffix: 0 };
  }
  for (let i = firstSuffix; i < count; i += 1) {
    entries.push(previous.entries[i] as TreeEntry);
    starts.push((previous.starts[i] as number) + shift);
  }
  return { tree: { oid, raw, entries, starts }, samePrefix, sameSuffix: count - firstSuffix };
}

/**
 * Appends the entries of raw[from, until) (or past `until`, to the first entry boundary at or
 * after it); returns the offset where parsing stopped.
 */
function parseEntries(
  raw: Buffer,
  from: number,
  until: number,
  oid: string,
  entries: TreeEntry[],
  starts: number[],
): number {
  let at = from;
  while (at < until) {
    const space = raw.indexOf(0x20, at);
    const nul = space < 0 ? -1 : raw.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > raw.length) {
      throw new BerthError('SOURCE_READ_FAILED', `git tree ${oid} is malformed at byte ${at}`);
    }
    starts.push(at);
    entries.push({
      kind: kindOfMode(raw, at, space),
      name: raw.toString('utf8', space + 1, nul),
      oid: raw.toString('hex', nul + 1, nul + 21),
    });
    at = nul + 21;
  }
  return at;
}

function kindOfMode(raw: Buffer, start: number, end: number): TreeEntryKind {
  // Decided on the leading digits: 40000 tree, 100644/100755 file, 120000 symlink, 160000 gitlink.
  const first = raw[start];
  if (end - start === 5 && first === 0x34) return 'tree';
  if (end - start === 6 && first === 0x31) {
    switch (raw[start + 1]) {
      case 0x30:
        return 'blob';
      case 0x32:
        return 'symlink';
      case 0x36:
        return 'submodule';
    }
  }
  // Old git wrote trees as 040000; git still reads them.
  if (raw.toString('latin1', start, end) === '040000') return 'tree';
  return 'other';
}

const CHUNK = 4096;

export function commonPrefixLength(a: Buffer, b: Buffer): number {
  const limit = Math.min(a.length, b.length);
  let at = 0;
  while (at + CHUNK <= limit && a.compare(b, at, at + CHUNK, at, at + CHUNK) === 0) at += CHUNK;
  while (at < limit && a[at] === b[at]) at += 1;
  return at;
}

/** Bytes equal at the ends of `a` and `b`, at most `limit`. */
export function commonSuffixLength(a: Buffer, b: Buffer, limit: number): number {
  let length = 0;
  while (
    length + CHUNK <= limit &&
    a.compare(
      b,
      b.length - length - CHUNK,
      b.length - length,
      a.length - length - CHUNK,
      a.length - length,
    ) === 0
  ) {
    length += CHUNK;
  }
  while (length < limit && a[a.length - length - 1] === b[b.length - length - 1]) length += 1;
  return length;
}
