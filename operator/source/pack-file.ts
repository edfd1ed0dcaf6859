/**
 * Reads objects out of a git pack (`.pack` + version-2 `.idx`), resolving deltas with a cache
 * of resolved bases. isomorphic-git's pack reader re-inflates a whole delta chain for every
 * object (with a JavaScript inflate), which made a cold 10,000-file commit take seconds; this
 * reader uses node's zlib and resolves each base once. Formats: git's
 * Documentation/gitformat-pack.txt. Anything it does not handle (index v1, a damaged entry)
 * is reported as `undefined`/an error so the caller can fall back to isomorphic-git.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import zlib from 'node:zlib';
import { WeightedLru } from './lru.js';

export type PackObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export interface PackObject {
  readonly type: PackObjectType;
  readonly content: Buffer;
}

const TYPE_NAMES: Record<number, PackObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const OFS_DELTA = 6;
const REF_DELTA = 7;
const IDX_V2_MAGIC = 0xff744f63;
/** Resolved delta bases kept per pack; chains in a manifest repo are long and share bases. */
const BASE_CACHE_BYTES = 32 * 1024 * 1024;

export class PackFormatError extends Error {}

export class PackFile {
  private readonly bases = new WeightedLru<number, PackObject>(BASE_CACHE_BYTES);
  /** Where each entry ends: the next entry's offset (or the trailer), by entry offset. */
  private ends: Map<number, number> | undefined;

  private constructor(
    readonly idxPath: string,
    private readonly index: Buffer,
    private readonly pack: Buffer,
    private readonly count: number,
  ) {}

  /** Loads the index and the pack; undefined for an index version this reader does not know. */
  static async open(idxPath: string): Promise<PackFile | undefined> {
    const index = await fsp.readFile(idxPath);
    if (
      index.length < 8 + 1024 ||
      index.readUInt32BE(0) !== IDX_V2_MAGIC ||
      index.readUInt32BE(4) !== 2
    ) {
      return undefined;
    }
    const pack = await fsp.readFile(idxPath.replace(/\.idx$/, '.pack'));
    if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK') {
      throw new PackFormatError(`${idxPath}: the pack file is not a git pack`);
    }
    const count = index.readUInt32BE(8 + 255 * 4);
    return new PackFile(idxPath, index, pack, count);
  }

  /** The entry offset of `oid` in the pack, or undefined when the pack does not hold it. */
  find(oid: string): number | undefined {
    const key = Buffer.from(oid, 'hex');
    if (key.length !== 20) return undefined;
    const first = key[0] as number;
    let low = first === 0 ? 0 : this.index.readUInt32BE(8 + (first - 1) * 4);
    let high = this.index.readUInt32BE(8 + first * 4);
    const names = 8 + 1024;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = key.compare(this.index, names + middle * 20, names + middle * 20 + 20);
      if (order === 0) return this.offsetAt(middle);
      if (order < 0) high = middle;
      else low = middle + 1;
    }
    return undefined;
  }

  /**
   * Reads the object at `offset`, checking that its content hashes to `oid`. Synchronous on
   * purpose: the pack is in memory, and concurrent async reads of objects sharing a delta base
   * would each rebuild the base before any of them cached it.
   */
  read(oid: string, offset: number): PackObject {
    const object = this.readAt(offset, 0);
    const actual = createHash('sha1')
      .update(`${object.type} ${object.content.length}\0`)
      .update(object.content)
      .digest('hex');
    if (actual !== oid) {
      throw new PackFormatError(`${this.idxPath}: object ${oid} reads back as ${actual}`);
    }
    return object;
  }

  private offsetAt(position: number): number {
    const offsets = 8 + 1024 + this.count * 24;
    const small = this.index.readUInt32BE(offsets + position * 4);
    if ((small & 0x80000000) === 0) return small;
    // Packs over 2 GiB keep large offsets in a second table.
    const large = offsets + this.count * 4 + (small & 0x7fffffff) * 8;
    return Number(this.index.readBigUInt64BE(large));
  }

  private endOf(offset: number): number {
    if (this.ends === undefined) {
      const starts: number[] = [];
      for (let i = 0; i < this.count; i += 1) starts.push(this.offsetAt(i));
      starts.sort((a, b) => a - b);
      this.ends = new Map();
      for (let i = 0; i < starts.length; i += 1) {
        this.ends.set(starts[i] as number, starts[i + 1] ?? this.pack.length - 20);
      }
    }
    const end = this.ends.get(offset);
    if (end === undefined)
      throw new PackFormatError(`${this.idxPath}: no entry starts at ${offset}`);
    return end;
  }

  /**
   * Type and size of the object at `offset` from entry headers alone: for a delta, the result
   * size is the second number at the start of its (partially inflated) data. Lets a caller
   * learn a huge blob's size without inflating it.
   */
  sizeAt(offset: number): { type: PackObjectType; size: number } {
    const cached = this.bases.get(offset);
    if (cached !== undefined) return { type: cached.type, size: cached.content.length };
    const entry = this.header(offset);
    if (entry.base === undefined)
      return { type: this.plainType(entry.typeCode, offset), size: entry.size };
    const head = zlib.inflateSync(
      this.pack.subarray(entry.dataStart, Math.min(this.endOf(offset), entry.dataStart + 64)),
      {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      },
    );
    let at = 0;
    const varint = (): number => {
      let value = 0;
      let scale = 1;
      let byte: number;
      do {
        byte = head[at++] as number;
        value += (byte & 0x7f) * scale;
        scale *= 128;
      } while (byte & 0x80 && at < head.length);
      return value;
    };
    varint();
    const size = varint();
    let base = entry.base;
    for (let hops = 0; hops < 10_000; hops += 1) {
      const next = this.header(base);
      if (next.base === undefined) return { type: this.plainType(next.typeCode, base), size };
      base = next.base;
    }
    throw new PackFormatError(`${this.idxPath}: delta chain too deep at ${offset}`);
  }

  /** An entry's header: its type code, stored size, where its data starts and its delta base. */
  private header(offset: number): {
    typeCode: number;
    size: number;
    dataStart: number;
    base: number | undefined;
  } {
    const pack = this.pack;
    let at = offset;
    let byte = pack[at++] as number;
    const typeCode = (byte >> 4) & 7;
    let size = byte & 15;
    let scale = 16;
    while (byte & 0x80) {
      byte = pack[at++] as number;
      size += (byte & 0x7f) * scale;
      scale *= 128;
    }
    let base: number | undefined;
    if (typeCode === OFS_DELTA) {
      byte = pack[at++] as number;
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        byte = pack[at++] as number;
        distance = (distance + 1) * 128 + (byte & 0x7f);
      }
      base = offset - distance;
    } else if (typeCode === REF_DELTA) {
      const baseOid = pack.toString('hex', at, at + 20);
      at += 20;
      base = this.find(baseOid);
      // A base outside the pack (a thin pack) is left to isomorphic-git, which looks everywhere.
      if (base === undefined)
        throw new PackFormatError(`${this.idxPath}: delta base ${baseOid} is not in the pack`);
    }
    return { typeCode, size, dataStart: at, base };
  }

  private plainType(typeCode: number, offset: number): PackObjectType {
    const type = TYPE_NAMES[typeCode];
    if (type === undefined)
      throw new PackFormatError(`${this.idxPath}: unknown entry type ${typeCode} at ${offset}`);
    return type;
  }

  private readAt(offset: number, depth: number): PackObject {
    const cached = this.bases.get(offset);
    if (cached !== undefined) return cached;
    if (depth > 10_000)
      throw new PackFormatError(`${this.idxPath}: delta chain too deep at ${offset}`);
    const entry = this.header(offset);
    const base = entry.base === undefined ? undefined : this.readAt(entry.base, depth + 1);
    const data = zlib.inflateSync(this.pack.subarray(entry.dataStart, this.endOf(offset)));
    if (data.length !== entry.size) {
      throw new PackFormatError(
        `${this.idxPath}: entry at ${offset} inflates to ${data.length} bytes, expected ${entry.size}`,
      );
    }
    const object: PackObject =
      base === undefined
        ? { type: this.plainType(entry.typeCode, offset), content: data }
        : { type: base.type, content: applyDelta(base.content, data, this.idxPath) };
    // Keep what deltas are built on, and resolved deltas (each cost a chain to build): reading
    // the objects of a commit then costs one inflate per entry, not one per chain link.
    if (depth > 0 || base !== undefined) this.bases.set(offset, object, object.content.length + 64);
    return object;
  }
}

/** git's delta format: source size, result size, then copy-from-source and insert instructions. */
export function applyDelta(source: Buffer, delta: Buffer, where = 'delta'): Buffer {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    let byte: number;
    do {
      byte = delta[at++] as number;
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return value;
  };
  const sourceSize = varint();
  const resultSize = varint();
  if (sourceSize !== source.length)
    throw new PackFormatError(`${where}: delta base has the wrong size`);
  const result = Buffer.allocUnsafe(resultSize);
  let written = 0;
  while (at < delta.length) {
    const op = delta[at++] as number;
    if (op & 0x80) {
      let copyOffset = 0;
      let copySize = 0;
      for (let bit = 0; bit < 4; bit += 1) {
        if (op & (1 << bit)) copyOffset += (delta[at++] as number) * 2 ** (8 * bit);
      }
      for (let bit = 0; bit < 3; bit += 1) {
        if (op & (0x10 << bit)) copySize += (delta[at++] as number) * 2 ** (8 * bit);
      }
      if (copySize === 0) copySize = 0x10000;
      if (copyOffset + copySize > source.length || written + copySize > resultSize) {
        throw new PackFormatError(`${where}: delta copies outside its buffers`);
      }
      source.copy(result, written, copyOffset, copyOffset + copySize);
      written += copySize;
    } else if (op !== 0) {
      if (at + op > delta.length || written + op > resultSize) {
        throw new PackFormatError(`${where}: delta inserts outside its buffers`);
      }
      delta.copy(result, written, at, at + op);
      at += op;
      written += op;
    } else {
      throw new PackFormatError(`${where}: delta has a reserved instruction`);
    }
  }
  if (written !== resultSize)
    throw new PackFormatError(`${where}: delta result has the wrong size`);
  return result;
}
