/**
 * A directory as a source: the files as they are on disk, uncommitted ones included. Blob ids
 * are computed as `git hash-object` does; a file whose stat is unchanged since it was hashed is
 * not read again (git's index does the same).
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, promises as fsp } from 'node:fs';
import path from 'node:path';
import { BerthError } from '../model/errors.js';
import type { Problem, ProblemCode } from '../model/problem.js';
import { mapLimit } from './concurrency.js';
import { errorMessage } from './git-objects.js';
import { IGNORE_FILE_NAME, type IgnoreRules, parseIgnoreRules, relativeTo } from './ignore.js';
import { WeightedLru } from './lru.js';
import {
  comparePaths,
  isManifestName,
  isSkippedFolderName,
  joinRepoPath,
  sortByPath,
} from './paths.js';
import type { SourceFile, SourceReaderStats } from './types.js';

/**
 * A file modified this close to when it was hashed may change again within the same mtime tick
 * (coarse on some filesystems); its hash is not trusted from stat alone ("racy git").
 */
const RACY_WINDOW_MS = 2_000;
const READ_CONCURRENCY = 32;

interface HashedStat {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly blobId: string;
}

/** `git hash-object`: sha1 of `blob <size>\0` followed by the bytes. */
export function gitBlobId(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

class DirectorySourceFile implements SourceFile {
  constructor(
    readonly path: string,
    readonly display: string,
    readonly blobId: string,
    readonly size: number,
    private readonly absolute: string,
  ) {}

  async read(): Promise<Uint8Array> {
    const content = await fsp.readFile(this.absolute);
    if (content.length !== this.size || gitBlobId(content) !== this.blobId) {
      // Handing out bytes under another content's id would poison caches keyed by blob id.
      throw new BerthError(
        'SOURCE_CHANGED',
        `${this.display} changed while the source was being read`,
        {
          retry: true,
          hint: 'read the source again',
        },
      );
    }
    return content;
  }
}

export interface DirectoryFileList {
  readonly files: readonly SourceFile[];
  readonly problems: readonly Problem[];
}

/** Where a walk is: files are shown below `shown` (posix, relative to the root) and live in `real`. */
interface Place {
  readonly shown: string;
  readonly real: string;
}

export class DirectoryLister {
  private readonly hashes = new WeightedLru<string, HashedStat>(1_000_000);

  constructor(private readonly stats: SourceReaderStats) {}

  /**
   * Files below `subpath` of the directory `rootReal` (a real path); `typedRoot` is how the user
   * wrote the root, for display. `only` lists just one file (the location was a file).
   */
  async list(
    typedRoot: string,
    rootReal: string,
    subpath: string,
    only?: string,
  ): Promise<DirectoryFileList> {
    const walk = new DirectoryWalk(this, typedRoot, rootReal);
    if (only !== undefined) {
      return walk.single(only);
    }
    const requested = path.join(rootReal, subpath);
    let scopeReal: string;
    try {
      scopeReal = await fsp.realpath(requested);
    } catch {
      throw new BerthError(
        'SOURCE_PATH_NOT_FOUND',
        `--path '${subpath}' does not exist in ${typedRoot}`,
        {
          hint: 'give a folder inside the directory',
        },
      );
    }
    if (!isWithinReal(rootReal, scopeReal)) {
      throw new BerthError(
        'SOURCE_PATH_NOT_FOUND',
        `--path '${subpath}' leads outside ${typedRoot} (to ${scopeReal})`,
      );
    }
    const stat = await fsp.stat(scopeReal);
    if (stat.isFile()) return walk.single(subpath);
    if (!stat.isDirectory()) {
      throw new BerthError(
        'SOURCE_PATH_NOT_FOUND',
        `--path '${subpath}' in ${typedRoot} is not a folder`,
      );
    }
    return walk.run({ shown: subpath, real: scopeReal }, await this.rulesIn(scopeReal));
  }

  /** The rules of the `.berthignore` at the root of the real folder `folder`, if it has one. */
  private async rulesIn(folder: string): Promise<IgnoreRules | undefined> {
    let content: Buffer;
    try {
      content = await fsp.readFile(path.join(folder, IGNORE_FILE_NAME));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw new BerthError(
        'SOURCE_READ_FAILED',
        `cannot read ${path.join(folder, IGNORE_FILE_NAME)}: ${errorMessage(error)}`,
        { hint: 'make the file readable, or remove it' },
      );
    }
    return parseIgnoreRules(content);
  }

  /** The blob id of a file, from the stat cache when the file is unchanged. */
  async blobIdOf(absolute: string): Promise<{ blobId: string; size: number }> {
    const stat = await fsp.stat(absolute, { bigint: true });
    const known = this.hashes.get(absolute);
    if (known !== undefined && sameStat(known, stat))
      return { blobId: known.blobId, size: Number(stat.size) };
    const startedMs = Date.now();
    const content = await fsp.readFile(absolute);
    this.stats.filesHashed += 1;
    const blobId = gitBlobId(content);
    const after = await fsp.stat(absolute, { bigint: true });
    const settled = Number(after.mtimeNs / 1_000_000n) < startedMs - RACY_WINDOW_MS;
    if (
      settled &&
      sameStat({ ...statKey(stat), blobId }, after) &&
      BigInt(content.length) === after.size
    ) {
      this.hashes.set(absolute, { ...statKey(after), blobId });
    } else {
      this.hashes.delete(absolute);
    }
    return { blobId, size: content.length };
  }
}

class DirectoryWalk {
  private readonly problems: Problem[] = [];
  private readonly found: { shown: string; real: string }[] = [];
  private readonly links: Place[] = [];
  /** Real folders whose files are listed (the scope and every folder a link expanded). */
  private readonly listedFolders: string[] = [];
  private readonly listedFiles = new Set<string>();
  /** The scope's `.berthignore` rules, and the shown path they are relative to. */
  private rules: IgnoreRules | undefined;
  private shownRoot = '';

  constructor(
    private readonly lister: DirectoryLister,
    private readonly typedRoot: string,
    private readonly rootReal: string,
  ) {}

  async single(relative: string): Promise<DirectoryFileList> {
    const absolute = path.join(this.rootReal, relative);
    const shown = relative.split(path.sep).join('/');
    try {
      const { blobId, size } = await this.lister.blobIdOf(absolute);
      return {
        files: [new DirectorySourceFile(shown, this.display(shown), blobId, size, absolute)],
        problems: [],
      };
    } catch (error) {
      this.problem(
        'file.unreadable',
        shown,
        `cannot read ${this.display(shown)}: ${errorMessage(error)}`,
      );
      return { files: [], problems: this.problems };
    }
  }

  /**
   * Lists the scope. What `rules` ignore is never read: an ignored folder is not entered, an
   * ignored link not followed; a link into an ignored part of the scope lists nothing (that
   * part counts as listed already).
   */
  async run(scope: Place, rules?: IgnoreRules): Promise<DirectoryFileList> {
    this.rules = rules;
    this.shownRoot = scope.shown;
    this.listedFolders.push(scope.real);
    await this.walk(scope);
    // Links are followed after the walk, so a target already listed at its own path is known;
    // in path order, so which of two links to one target wins does not depend on timing.
    for (let batch = this.links.splice(0); batch.length > 0; batch = this.links.splice(0)) {
      batch.sort((a, b) => comparePaths(a.shown, b.shown));
      for (const link of batch) await this.followLink(link);
    }
    const files = await mapLimit(this.found, READ_CONCURRENCY, async ({ shown, real }) => {
      try {
        const { blobId, size } = await this.lister.blobIdOf(real);
        return new DirectorySourceFile(shown, this.display(shown), blobId, size, real);
      } catch (error) {
        this.problem(
          'file.unreadable',
          shown,
          `cannot read ${this.display(shown)}: ${errorMessage(error)}`,
        );
        return undefined;
      }
    });
    return {
      files: sortByPath(files.filter((file): file is DirectorySourceFile => file !== undefined)),
      problems: this.problems,
    };
  }

  private async walk(folder: Place): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(folder.real, { withFileTypes: true });
    } catch (error) {
      this.problem(
        'file.unreadable',
        folder.shown,
        `cannot list ${this.display(folder.shown)}: ${errorMessage(error)}`,
      );
      return;
    }
    const subfolders: Place[] = [];
    for (const entry of entries) {
      const place = {
        shown: joinRepoPath(folder.shown, entry.name),
        real: path.join(folder.real, entry.name),
      };
      if (entry.isDirectory()) {
        if (!isSkippedFolderName(entry.name) && !this.ignores(place.shown, 'folder')) {
          subfolders.push(place);
        }
      } else if (entry.isFile()) {
        // A file an earlier link already listed is not listed again through a linked folder.
        if (
          isManifestName(entry.name) &&
          !this.listedFiles.has(place.real) &&
          !this.ignores(place.shown, 'file')
        ) {
          this.listedFiles.add(place.real);
          this.found.push(place);
        }
      } else if (entry.isSymbolicLink()) {
        if (!this.ignores(place.shown, 'link')) this.links.push(place);
      }
    }
    await Promise.all(subfolders.map((subfolder) => this.walk(subfolder)));
  }

  private async followLink(link: Place): Promise<void> {
    const name = path.basename(link.real);
    let target: string;
    let real: string;
    try {
      target = await fsp.readlink(link.real);
      real = await fsp.realpath(link.real);
    } catch (error) {
      if (isManifestName(name)) {
        const code = (error as NodeJS.ErrnoException).code;
        const why =
          code === 'ELOOP'
            ? 'goes through too many symbolic links'
            : 'points to a file that does not exist';
        this.problem(
          'file.unreadable',
          link.shown,
          `symbolic link ${this.display(link.shown)} ${why}; it is not read`,
        );
      }
      return;
    }
    let stat: Awaited<ReturnType<typeof fsp.stat>>;
    try {
      stat = await fsp.stat(real);
    } catch (error) {
      this.problem(
        'file.unreadable',
        link.shown,
        `cannot read ${this.display(link.shown)}: ${errorMessage(error)}`,
      );
      return;
    }
    if (!isWithinReal(this.rootReal, real)) {
      if (isManifestName(name) || isManifestName(real) || stat.isDirectory()) {
        this.problem(
          'file.symlink-outside',
          link.shown,
          `symbolic link ${this.display(link.shown)} points to ${target} (${real}), outside the source; it is not read`,
        );
      }
      return;
    }
    if (stat.isFile()) {
      if (!isManifestName(name) || this.isListedFile(real) || this.listedFiles.has(real)) return;
      this.listedFiles.add(real);
      this.found.push({ shown: link.shown, real });
    } else if (stat.isDirectory()) {
      // A folder already listed, or an ancestor of one (a cycle), is not listed again.
      if (
        this.listedFolders.some(
          (folder) => isWithinReal(folder, real) || isWithinReal(real, folder),
        )
      )
        return;
      this.listedFolders.push(real);
      await this.walk({ shown: link.shown, real });
    }
  }

  /** Do the rules ignore `shown`? A link is ignored as a file or as a folder. */
  private ignores(shown: string, as: 'file' | 'folder' | 'link'): boolean {
    if (this.rules === undefined) return false;
    const relative = relativeTo(this.shownRoot, shown);
    if (as === 'file') return this.rules.ignores(relative);
    if (as === 'folder') return this.rules.ignores(`${relative}/`);
    return this.rules.ignores(relative) || this.rules.ignores(`${relative}/`);
  }

  /** Would the walk list this real file at its own path? */
  private isListedFile(real: string): boolean {
    if (!isManifestName(path.basename(real))) return false;
    const relative = path.relative(this.rootReal, real).split(path.sep);
    if (relative.slice(0, -1).some(isSkippedFolderName)) return false;
    return this.listedFolders.some((folder) => isWithinReal(folder, real));
  }

  private display(shown: string): string {
    return shown === '' ? this.typedRoot : path.join(this.typedRoot, shown);
  }

  private problem(code: ProblemCode, shown: string, message: string): void {
    this.problems.push({
      code,
      origin: { file: this.display(shown), line: 1, column: 1 },
      message,
    });
  }
}

function isWithinReal(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return (
    relative === '' ||
    (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative))
  );
}

function statKey(stat: BigIntStats): Omit<HashedStat, 'blobId'> {
  return {
    dev: stat.dev,
    ino: stat.ino,
    size: stat.size,
    mtimeNs: stat.mtimeNs,
    ctimeNs: stat.ctimeNs,
  };
}

function sameStat(known: HashedStat, stat: BigIntStats): boolean {
  return (
    known.dev === stat.dev &&
    known.ino === stat.ino &&
    known.size === stat.size &&
    known.mtimeNs === stat.mtimeNs &&
    known.ctimeNs === stat.ctimeNs
  );
}
