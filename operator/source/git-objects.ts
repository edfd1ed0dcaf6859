/**
 * Reads git objects of a repository's object database (loose and packed), with caches keyed
 * by object id. Objects are content-addressed, so a cached tree or blob size is valid for every
 * repository that holds the same id.
 *
 * Packed objects are read by `PackFile` (node's zlib, delta bases resolved once) and loose
 * objects from their files; anything those do not find or cannot read (alternates, index v1,
 * an object written a moment ago) goes to isomorphic-git's readObject. Trees are parsed here:
 * isomorphic-git's inflate and tree parser take ~20 ms for a 10,000-entry tree, and its pack
 * reader re-inflates whole delta chains per object (seconds for a cold 10,000-file commit).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import git, { type FsClient } from 'isomorphic-git';
import { BerthError, isBerthError } from '../model/errors.js';
import { Semaphore } from './concurrency.js';
import { WeightedLru } from './lru.js';
import { ObjectDatabaseFs } from './object-fs.js';
import { PackFile } from './pack-file.js';
import { type ParsedTree, parseTreeAfter, type TreeComparison } from './tree-parse.js';
import type { SourceReaderStats } from './types.js';

const inflate = promisify(zlib.inflate);

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

interface LoadedObject {
  readonly type: ObjectType;
  readonly content: Buffer;
}

/** Budgets of the caches, counted in tree entries, blob ids and bytes. */
export interface ObjectCacheBudget {
  /** @default 1_000_000 tree entries */
  readonly treeEntries: number;
  /** @default 1_000_000 blob sizes */
  readonly blobSizes: number;
  /** Blob contents read while learning sizes, kept for the read() that usually follows. @default 64 MiB */
  readonly blobBytes: number;
}

export const DEFAULT_OBJECT_CACHE_BUDGET: ObjectCacheBudget = {
  treeEntries: 1_000_000,
  blobSizes: 1_000_000,
  blobBytes: 64 * 1024 * 1024,
};

/** Loose objects smaller than this (deflated) are inflated whole when their size is asked for. */
const SMALL_LOOSE_BYTES = 64 * 1024;
/** Packed blobs up to this size are read whole when their size is asked for; larger ones are only measured. */
const SMALL_BLOB_BYTES = 1024 * 1024;

/** A symlink target is a path; anything longer is not one we follow. */
const MAX_SYMLINK_TARGET_BYTES = 4096;

export class ObjectStore {
  /** Shared by every isomorphic-git call of the reader: parsed pack indexes live here. */
  readonly gitCache: object = {};
  private readonly trees: WeightedLru<string, Promise<ParsedTree>>;
  private readonly blobSizes: WeightedLru<string, number>;
  private readonly blobContents: WeightedLru<string, Buffer>;
  private readonly objectFs = new ObjectDatabaseFs();
  private readonly symlinkTargets = new WeightedLru<string, string>(10_000);
  /** A cold listing of thousands of folders would otherwise open thousands of files at once. */
  private readonly reads = new Semaphore(64);

  /** Opened packs by index path; kept across generations (a pack's name is its content hash). */
  private readonly packFiles = new Map<string, Promise<PackFile | undefined>>();
  /** Packs of each git directory as of this generation. */
  private packLists = new Map<string, Promise<readonly PackFile[]>>();

  constructor(
    private readonly stats: SourceReaderStats,
    /** False reads every object through isomorphic-git (slower; kept to compare against). */
    private readonly nativePacks = true,
    budget: ObjectCacheBudget = DEFAULT_OBJECT_CACHE_BUDGET,
  ) {
    this.trees = new WeightedLru(budget.treeEntries);
    this.blobSizes = new WeightedLru(budget.blobSizes);
    this.blobContents = new WeightedLru(budget.blobBytes);
  }

  /**
   * Starts a new generation: objects and packs written since the last one become visible.
   * Called at each open, so an open sees the repository as it is now.
   */
  async refresh(): Promise<void> {
    this.objectFs.refresh();
    this.packLists = new Map();
    await forgetVanishedPacks(this.gitCache);
  }

  /** A tree, parsed; cached by tree id. */
  async readTree(gitdir: string, oid: string): Promise<ParsedTree> {
    return (await this.readTreeAfter(gitdir, oid, undefined)).tree;
  }

  /**
   * A tree and how much of it equals `previous` (the same folder at an earlier commit), so the
   * caller can reuse what it derived from the shared entries. A cached tree shares nothing.
   */
  async readTreeAfter(
    gitdir: string,
    oid: string,
    previous: ParsedTree | undefined,
  ): Promise<TreeComparison> {
    const cached = this.trees.get(oid);
    if (cached !== undefined) return { tree: await cached, samePrefix: 0, sameSuffix: 0 };
    const loading = this.loadTree(gitdir, oid, previous);
    const tree = loading.then((comparison) => comparison.tree);
    this.trees.set(oid, tree);
    tree.then(
      (parsed) => {
        // Re-set with the real weight now that it is known (unless it was evicted meanwhile).
        if (this.trees.get(oid) === tree) this.trees.set(oid, tree, parsed.entries.length + 1);
      },
      () => this.trees.delete(oid),
    );
    return loading;
  }

  /** A cached blob size, without I/O; undefined when it must be read. */
  knownBlobSize(oid: string): number | undefined {
    return this.blobSizes.get(oid);
  }

  /** The size of a blob; a large loose blob is measured from its header alone (no full inflate). */
  async blobSize(gitdir: string, oid: string): Promise<number> {
    const known = this.blobSizes.get(oid);
    if (known !== undefined) return known;
    this.stats.blobSizesRead += 1;
    const packed = this.nativePacks ? await this.packedBlobSize(gitdir, oid) : undefined;
    if (packed !== undefined) return packed;
    const result = await this.readRaw(gitdir, oid);
    if (result.format === 'deflated' && result.object.length > SMALL_LOOSE_BYTES) {
      const size = probeLooseHeader(result.object, oid, 'blob');
      if (size !== undefined) {
        this.blobSizes.set(oid, size);
        return size;
      }
    }
    const loaded =
      result.format === 'deflated'
        ? await this.inflateLoose(result.object, oid)
        : { type: result.type, content: toBuffer(result.object) };
    expectType(loaded.type, 'blob', oid);
    this.remember(oid, loaded.content);
    return loaded.content.length;
  }

  /** A blob's bytes. The buffer may be shared with the cache: callers must not modify it. */
  async readBlob(gitdir: string, oid: string): Promise<Uint8Array> {
    const cached = this.blobContents.get(oid);
    if (cached !== undefined) {
      // Read once: the usual reader (the manifest loader) keeps what it parsed by blob id.
      this.blobContents.delete(oid);
      return cached;
    }
    const loaded = await this.readObject(gitdir, oid);
    expectType(loaded.type, 'blob', oid);
    this.blobSizes.set(oid, loaded.content.length);
    return loaded.content;
  }

  /**
   * A packed blob's size from its entry headers. Small blobs are read whole while at it (the
   * read() that usually follows is then free); large ones are not read here at all.
   */
  private async packedBlobSize(gitdir: string, oid: string): Promise<number | undefined> {
    for (const pack of await this.packsOf(gitdir)) {
      const offset = pack.find(oid);
      if (offset === undefined) continue;
      try {
        const { type, size } = pack.sizeAt(offset);
        expectType(type, 'blob', oid);
        if (size > SMALL_BLOB_BYTES) {
          this.blobSizes.set(oid, size);
          return size;
        }
        const object = pack.read(oid, offset);
        this.remember(oid, object.content);
        return object.content.length;
      } catch (error) {
        if (isBerthError(error)) throw error;
        // A damaged entry or an unusual pack: the general path gets a chance and reports it.
        return undefined;
      }
    }
    return undefined;
  }

  private remember(oid: string, content: Buffer): void {
    this.blobSizes.set(oid, content.length);
    this.blobContents.set(oid, content, content.length + 64);
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

  private async loadTree(
    gitdir: string,
    oid: string,
    previous: ParsedTree | undefined,
  ): Promise<TreeComparison> {
    const loaded = await this.readObject(gitdir, oid);
    expectType(loaded.type, 'tree', oid);
    this.stats.treesRead += 1;
    return parseTreeAfter(loaded.content, oid, previous);
  }

  private async readRaw(
    gitdir: string,
    oid: string,
  ): Promise<
    | { format: 'deflated'; object: Uint8Array }
    | { format: 'content'; type: ObjectType; object: Uint8Array }
  > {
    if (this.nativePacks) {
      const found = await this.readNative(gitdir, oid);
      if (found !== undefined) return found;
    }
    let result: Awaited<ReturnType<typeof git.readObject>>;
    const read = () =>
      this.reads.run(() =>
        git.readObject({
          // isomorphic-git accepts its own FileSystem wherever it takes an fs (it unwraps nothing
          // twice), but its FsClient type does not say so.
          fs: this.objectFs.client as unknown as FsClient,
          gitdir,
          oid,
          format: 'deflated',
          cache: this.gitCache,
        }),
      );
    try {
      try {
        result = await read();
      } catch (error) {
        // Written, packed or repacked since this generation's listings were taken: look again.
        if (!isNotFound(error)) throw error;
        this.objectFs.refresh();
        result = await read();
      }
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

  /** The object from this generation's packs or loose files; undefined when not there. */
  private async readNative(
    gitdir: string,
    oid: string,
  ): Promise<
    | { format: 'deflated'; object: Uint8Array }
    | { format: 'content'; type: ObjectType; object: Uint8Array }
    | undefined
  > {
    for (const pack of await this.packsOf(gitdir)) {
      const offset = pack.find(oid);
      if (offset === undefined) continue;
      try {
        const object = pack.read(oid, offset);
        return { format: 'content', type: object.type, object: object.content };
      } catch {
        // A damaged entry or an unusual pack: isomorphic-git gets a chance and reports it.
        return undefined;
      }
    }
    const folder = path.join(gitdir, 'objects', oid.slice(0, 2));
    if (!(await this.objectFs.listing(folder)).has(oid.slice(2))) return undefined;
    try {
      return {
        format: 'deflated',
        object: await this.reads.run(() => fsp.readFile(path.join(folder, oid.slice(2)))),
      };
    } catch {
      // Packed and pruned since the listing: isomorphic-git looks again from scratch.
      return undefined;
    }
  }

  private packsOf(gitdir: string): Promise<readonly PackFile[]> {
    let packs = this.packLists.get(gitdir);
    if (packs === undefined) {
      packs = this.listPacks(gitdir);
      this.packLists.set(gitdir, packs);
    }
    return packs;
  }

  private async listPacks(gitdir: string): Promise<readonly PackFile[]> {
    const folder = path.join(gitdir, 'objects', 'pack');
    const names = await this.objectFs.listing(folder);
    const current = new Set(
      [...names]
        .filter((name) => name.endsWith('.idx') && names.has(name.replace(/\.idx$/, '.pack')))
        .map((name) => path.join(folder, name)),
    );
    for (const known of this.packFiles.keys()) {
      if (path.dirname(known) === folder && !current.has(known)) this.packFiles.delete(known);
    }
    const opened = await Promise.all(
      [...current].sort().map((idxPath) => {
        let pack = this.packFiles.get(idxPath);
        if (pack === undefined) {
          pack = PackFile.open(idxPath).catch(() => {
            // Perhaps still being written: try again in a later generation.
            this.packFiles.delete(idxPath);
            return undefined;
          });
          this.packFiles.set(idxPath, pack);
        }
        return pack;
      }),
    );
    return opened.filter((pack): pack is PackFile => pack !== undefined);
  }

  private async inflateLoose(deflated: Uint8Array, oid: string): Promise<LoadedObject> {
    // Small objects inflate faster inline than through the thread pool.
    const wrapped =
      deflated.length < SMALL_LOOSE_BYTES ? zlib.inflateSync(deflated) : await inflate(deflated);
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

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'NotFoundError' || code === 'ENOENT';
}

/**
 * isomorphic-git keeps every pack it opened (index and whole pack file) in its cache, keyed by
 * file name. Packs deleted by gc or by a fresh fetch would stay in memory for the life of the
 * reader; drop them. The cache's layout is isomorphic-git's, so this only touches what it finds.
 */
async function forgetVanishedPacks(gitCache: object): Promise<void> {
  for (const symbol of Object.getOwnPropertySymbols(gitCache)) {
    const packs = (gitCache as Record<symbol, unknown>)[symbol];
    if (!(packs instanceof Map)) continue;
    const names = [...packs.keys()].filter(
      (key): key is string => typeof key === 'string' && key.endsWith('.idx'),
    );
    await Promise.all(
      names.map(async (name) => {
        try {
          await fsp.access(name);
        } catch {
          packs.delete(name);
        }
      }),
    );
  }
}
