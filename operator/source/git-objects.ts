/**
 * Reads git objects of a repository's object database (loose and packed) through
 * isomorphic-git, with caches keyed by object id. Objects are content-addressed, so a cached
 * tree or blob size is valid for every repository that holds the same id.
 *
 * isomorphic-git finds the object (loose file or pack entry, resolving deltas); loose objects
 * are taken in their deflated form and inflated here with node's zlib, and trees are parsed
 * here: isomorphic-git's own inflate and tree parser take ~20 ms for a 10,000-entry tree,
 * which alone would miss the re-open budget.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import git from 'isomorphic-git';
import { BerthError } from '../model/errors.js';
import { Semaphore } from './concurrency.js';
import { WeightedLru } from './lru.js';
import type { SourceReaderStats } from './types.js';

const inflate = promisify(zlib.inflate);

/** `other` is a mode git does not write today; such entries are skipped like submodules. */
export type TreeEntryKind = 'blob' | 'tree' | 'symlink' | 'submodule' | 'other';

export interface TreeEntry {
  readonly name: string;
  readonly kind: TreeEntryKind;
  readonly oid: string;
}

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

interface LoadedObject {
  readonly type: ObjectType;
  readonly content: Buffer;
}

/** Budgets of the caches, counted in tree entries and in blob ids. */
export interface ObjectCacheBudget {
  /** @default 1_000_000 tree entries */
  readonly treeEntries: number;
  /** @default 1_000_000 blob sizes */
  readonly blobSizes: number;
}

export const DEFAULT_OBJECT_CACHE_BUDGET: ObjectCacheBudget = {
  treeEntries: 1_000_000,
  blobSizes: 1_000_000,
};

/** A symlink target is a path; anything longer is not one we follow. */
const MAX_SYMLINK_TARGET_BYTES = 4096;

export class ObjectStore {
  /** Shared by every isomorphic-git call of the reader: parsed pack indexes live here. */
  readonly gitCache: object = {};
  private readonly trees: WeightedLru<string, Promise<readonly TreeEntry[]>>;
  private readonly blobSizes: WeightedLru<string, number>;
  private readonly symlinkTargets = new WeightedLru<string, string>(10_000);
  /** A cold listing of thousands of folders would otherwise open thousands of files at once. */
  private readonly reads = new Semaphore(64);

  constructor(
    private readonly stats: SourceReaderStats,
    budget: ObjectCacheBudget = DEFAULT_OBJECT_CACHE_BUDGET,
  ) {
    this.trees = new WeightedLru(budget.treeEntries);
    this.blobSizes = new WeightedLru(budget.blobSizes);
  }

  /** The entries of a tree, in git's order; cached by tree id. */
  readTree(gitdir: string, oid: string): Promise<readonly TreeEntry[]> {
    const cached = this.trees.get(oid);
    if (cached !== undefined) return cached;
    const loading = this.loadTree(gitdir, oid);
    this.trees.set(oid, loading);
    loading.then(
      (entries) => {
        // Re-set with the real weight now that it is known (the entry may have been evicted).
        if (this.trees.get(oid) === loading) this.trees.set(oid, loading, entries.length + 1);
      },
      () => this.trees.delete(oid),
    );
    return loading;
  }

  /** A cached blob size, without I/O; undefined when it must be read. */
  knownBlobSize(oid: string): number | undefined {
    return this.blobSizes.get(oid);
  }

  /** The size of a blob, read from its object header when it is loose (no full inflate). */
  async blobSize(gitdir: string, oid: string): Promise<number> {
    const known = this.blobSizes.get(oid);
    if (known !== undefined) return known;
    this.stats.blobSizesRead += 1;
    const result = await this.readRaw(gitdir, oid);
    let size: number;
    if (result.format === 'deflated') {
      size =
        probeLooseHeader(result.object, oid, 'blob') ??
        (await this.inflateLoose(result.object, oid)).content.length;
    } else {
      expectType(result.type, 'blob', oid);
      size = result.object.length;
    }
    this.blobSizes.set(oid, size);
    return size;
  }

  async readBlob(gitdir: string, oid: string): Promise<Uint8Array> {
    const loaded = await this.readObject(gitdir, oid);
    expectType(loaded.type, 'blob', oid);
    this.blobSizes.set(oid, loaded.content.length);
    return loaded.content;
  }

  /** The target path stored in a symlink blob (mode 120000). */
  async readSymlinkTarget(gitdir: string, oid: string): Promise<string> {
    const cached = this.symlinkTargets.get(oid);
    if (cached !== undefined) return cached;
    const content = await this.readBlob(gitdir, oid);
    const target =
      content.length > MAX_SYMLINK_TARGET_BYTES
        ? ''
        : Buffer.from(content.buffer, content.byteOffset, content.length).toString('utf8');
    this.symlinkTargets.set(oid, target);
    return target;
  }

  async readObject(gitdir: string, oid: string): Promise<LoadedObject> {
    const result = await this.readRaw(gitdir, oid);
    if (result.format === 'deflated') return this.inflateLoose(result.object, oid);
    return { type: result.type, content: toBuffer(result.object) };
  }

  private async loadTree(gitdir: string, oid: string): Promise<readonly TreeEntry[]> {
    const loaded = await this.readObject(gitdir, oid);
    expectType(loaded.type, 'tree', oid);
    this.stats.treesRead += 1;
    return parseTree(loaded.content, oid);
  }

  private async readRaw(
    gitdir: string,
    oid: string,
  ): Promise<
    | { format: 'deflated'; object: Uint8Array }
    | { format: 'content'; type: ObjectType; object: Uint8Array }
  > {
    let result: Awaited<ReturnType<typeof git.readObject>>;
    try {
      result = await this.reads.run(() =>
        git.readObject({ fs, gitdir, oid, format: 'deflated', cache: this.gitCache }),
      );
    } catch (error) {
      throw new BerthError(
        'SOURCE_READ_FAILED',
        `cannot read git object ${oid} in ${gitdir}: ${errorMessage(error)}`,
        {
          hint: 'the repository may be incomplete (a shallow clone) or damaged; `git fsck` tells',
          cause: error,
        },
      );
    }
    switch (result.format) {
      case 'deflated':
        return { format: 'deflated', object: result.object };
      case 'content':
        return { format: 'content', type: result.type, object: result.object };
      default:
        // 'wrapped' is only the hard-coded empty tree; 'parsed' is never asked for.
        if (result.format === 'wrapped') {
          const { type, content } = splitWrapped(toBuffer(result.object), oid);
          return { format: 'content', type, object: content };
        }
        throw new BerthError(
          'SOURCE_READ_FAILED',
          `git object ${oid}: unexpected format ${result.format}`,
        );
    }
  }

  private async inflateLoose(deflated: Uint8Array, oid: string): Promise<LoadedObject> {
    const wrapped = await inflate(deflated);
    // The same check isomorphic-git makes: a loose file whose content does not hash to its name is damaged.
    const actual = createHash('sha1').update(wrapped).digest('hex');
    if (actual !== oid) {
      throw new BerthError(
        'SOURCE_READ_FAILED',
        `git object ${oid} is damaged: its content hashes to ${actual}`,
        {
          hint: 'run `git fsck` in the repository',
        },
      );
    }
    return splitWrapped(wrapped, oid);
  }
}

function splitWrapped(wrapped: Buffer, oid: string): LoadedObject {
  const space = wrapped.indexOf(0x20);
  const nul = wrapped.indexOf(0, space);
  const type = wrapped.toString('latin1', 0, space);
  const size = Number(wrapped.toString('latin1', space + 1, nul));
  if (!isObjectType(type) || nul < 0 || size !== wrapped.length - nul - 1) {
    throw new BerthError('SOURCE_READ_FAILED', `git object ${oid} has a malformed header`);
  }
  return { type, content: wrapped.subarray(nul + 1) };
}

/** Inflates only the first bytes of a loose object to read `<type> <size>\0`; undefined if that was not enough. */
function probeLooseHeader(
  deflated: Uint8Array,
  oid: string,
  expected: ObjectType,
): number | undefined {
  let head: Buffer;
  try {
    head = zlib.inflateSync(deflated.subarray(0, 256), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
  } catch {
    return undefined;
  }
  const nul = head.indexOf(0);
  if (nul < 0) return undefined;
  const header = head.toString('latin1', 0, nul);
  const [type, size] = header.split(' ');
  expectType(type ?? '', expected, oid);
  const parsed = Number(size);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}

/**
 * Entries of a tree object: `<mode> <name>\0<20-byte id>` repeated. Modes as git writes them
 * (`40000`, `100644`, `100755`, `120000`, `160000`) plus the historic `100664`.
 */
export function parseTree(content: Buffer, oid: string): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = space < 0 ? -1 : content.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > content.length) {
      throw new BerthError('SOURCE_READ_FAILED', `git tree ${oid} is malformed at byte ${at}`);
    }
    entries.push({
      kind: kindOfMode(content, at, space),
      name: content.toString('utf8', space + 1, nul),
      oid: content.toString('hex', nul + 1, nul + 21),
    });
    at = nul + 21;
  }
  return entries;
}

function kindOfMode(content: Buffer, start: number, end: number): TreeEntryKind {
  // Decided on the first two digits: 4xxxx tree, 10xxxx file, 12xxxx symlink, 16xxxx gitlink.
  const first = content[start];
  if (end - start === 5 && first === 0x34) return 'tree';
  if (end - start === 6 && first === 0x31) {
    switch (content[start + 1]) {
      case 0x30:
        return 'blob';
      case 0x32:
        return 'symlink';
      case 0x36:
        return 'submodule';
    }
  }
  // Old git wrote trees as 040000; accept it like git does.
  if (content.toString('latin1', start, end) === '040000') return 'tree';
  return 'other';
}

function isObjectType(type: string): type is ObjectType {
  return type === 'blob' || type === 'tree' || type === 'commit' || type === 'tag';
}

function expectType(actual: string, expected: ObjectType, oid: string): void {
  if (actual !== expected) {
    throw new BerthError(
      'SOURCE_READ_FAILED',
      `git object ${oid} is a ${actual}, expected a ${expected}`,
    );
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
