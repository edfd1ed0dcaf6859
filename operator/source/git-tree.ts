/**
 * The manifest files of a commit, from its trees. Listings are cached per (repository, folder
 * path, tree id): a commit that changed one file re-reads only the trees on that file's path,
 * and every unchanged subtree's listing (its SourceFile objects included) is reused as is.
 */
import path from 'node:path';
import { BerthError } from '../model/errors.js';
import type { Problem } from '../model/problem.js';
import type { ObjectStore } from './git-objects.js';
import type { ResolvedCommit } from './git-refs.js';
import type { GitRepository } from './git-repository.js';
import { IGNORE_FILE_NAME, type IgnoreRules, parseIgnoreRules, relativeTo } from './ignore.js';
import { WeightedLru } from './lru.js';
import { isManifestName, isWithin, joinRepoPath, sortByPath } from './paths.js';
import type { ParsedTree, TreeEntry } from './tree-parse.js';
import type { SourceFile } from './types.js';

/** Linux gives up after 40 links in one lookup (ELOOP); so do we. */
const MAX_SYMLINK_HOPS = 40;

class GitSourceFile implements SourceFile {
  readonly display: string;

  constructor(
    readonly path: string,
    readonly blobId: string,
    readonly size: number,
    private readonly store: ObjectStore,
    private readonly gitdir: string,
  ) {
    this.display = path;
  }

  read(): Promise<Uint8Array> {
    return this.store.readBlob(this.gitdir, this.blobId);
  }
}

interface LinkEntry {
  /** Where the link is listed (its path in the repository, or below a followed link). */
  readonly path: string;
  readonly oid: string;
}

/** What a folder holds: manifest files below it, sorted, and the symlinks still to resolve. */
interface Listing {
  readonly files: readonly SourceFile[];
  readonly links: readonly LinkEntry[];
}

interface FolderMemory {
  readonly tree: ParsedTree;
  /** By entry position: the SourceFile of a manifest blob entry, else undefined. */
  readonly direct: readonly (SourceFile | undefined)[];
}

export interface GitFileList {
  readonly files: readonly SourceFile[];
  readonly problems: readonly Problem[];
}

type Resolved =
  | { readonly kind: 'tree' | 'blob'; readonly oid: string; readonly path: string }
  | { readonly kind: 'missing' | 'outside' | 'loop' | 'submodule' };

export class GitTreeLister {
  private readonly listings: WeightedLru<string, Promise<Listing>>;
  private readonly fileLists: WeightedLru<string, Promise<GitFileList>>;
  /** The last tree listed at each folder, and the file made of each of its entries. */
  private readonly folders: WeightedLru<string, FolderMemory>;
  /** `.berthignore` rules by blob id (undefined: the file has no rule). */
  private readonly ignoreRules = new WeightedLru<string, Promise<IgnoreRules | undefined>>(1_000);

  constructor(
    private readonly store: ObjectStore,
    budget = 2_000_000,
  ) {
    this.listings = new WeightedLru(budget);
    this.fileLists = new WeightedLru(budget);
    this.folders = new WeightedLru(budget);
  }

  /** Manifest files of `commit` below `subpath` ('' = whole tree), cached per (repository, commit, path). */
  list(repository: GitRepository, commit: ResolvedCommit, subpath: string): Promise<GitFileList> {
    const key = `${repository.gitdir}\0${commit.commit}\0${subpath}`;
    const cached = this.fileLists.get(key);
    if (cached !== undefined) return cached;
    const building = this.build(repository, commit, subpath);
    this.fileLists.set(key, building);
    building.then(
      (list) => {
        if (this.fileLists.get(key) === building)
          this.fileLists.set(key, building, list.files.length + 1);
      },
      () => this.fileLists.delete(key),
    );
    return building;
  }

  private async build(
    repository: GitRepository,
    commit: ResolvedCommit,
    subpath: string,
  ): Promise<GitFileList> {
    const walk = new LinkWalk(this, repository, commit.tree);
    const scope =
      subpath === ''
        ? ({ kind: 'tree', oid: commit.tree, path: '' } as const)
        : await walk.resolve(subpath);
    switch (scope.kind) {
      case 'tree': {
        const [listing, rules] = await Promise.all([
          this.listTree(repository, scope.oid, subpath === '' ? '' : `${subpath}/`),
          this.rulesAt(repository, walk, scope.path),
        ]);
        return walk.finish(listing, subpath, scope.path, rules);
      }
      case 'blob': {
        const size = await this.store.blobSize(repository.gitdir, scope.oid);
        return {
          files: [new GitSourceFile(subpath, scope.oid, size, this.store, repository.gitdir)],
          problems: [],
        };
      }
      default:
        throw await this.pathNotFound(repository, commit, subpath, scope.kind);
    }
  }

  /**
   * The rules of the `.berthignore` at the root of the folder `realPath` (a link to one inside
   * the repository counts, as in a checkout). The listing cache is keyed by commit, so a commit
   * that changes only the rules is listed anew.
   */
  private async rulesAt(
    repository: GitRepository,
    walk: LinkWalk,
    realPath: string,
  ): Promise<IgnoreRules | undefined> {
    const found = await walk.resolve(joinRepoPath(realPath, IGNORE_FILE_NAME));
    if (found.kind !== 'blob') return undefined;
    const cached = this.ignoreRules.get(found.oid);
    if (cached !== undefined) return cached;
    const parsing = this.store.readBlob(repository.gitdir, found.oid).then(parseIgnoreRules);
    this.ignoreRules.set(found.oid, parsing);
    parsing.catch(() => this.ignoreRules.delete(found.oid));
    return parsing;
  }

  /** Listing of one tree whose files are shown under `prefix` ('' or ending in '/'). */
  listTree(repository: GitRepository, oid: string, prefix: string): Promise<Listing> {
    const key = `${repository.gitdir}\0${prefix}\0${oid}`;
    const cached = this.listings.get(key);
    if (cached !== undefined) return cached;
    const building = this.buildListing(repository, oid, prefix);
    this.listings.set(key, building);
    building.then(
      (listing) => {
        if (this.listings.get(key) === building) {
          this.listings.set(key, building, listing.files.length + listing.links.length + 1);
        }
      },
      () => this.listings.delete(key),
    );
    return building;
  }

  async readTree(repository: GitRepository, oid: string): Promise<readonly TreeEntry[]> {
    return (await this.store.readTree(repository.gitdir, oid)).entries;
  }

  readSymlinkTarget(repository: GitRepository, oid: string): Promise<string> {
    return this.store.readSymlinkTarget(repository.gitdir, oid);
  }

  fileAt(repository: GitRepository, shownAs: string, oid: string): Promise<SourceFile> {
    return this.store
      .blobSize(repository.gitdir, oid)
      .then((size) => new GitSourceFile(shownAs, oid, size, this.store, repository.gitdir));
  }

  private async buildListing(
    repository: GitRepository,
    oid: string,
    prefix: string,
  ): Promise<Listing> {
    const { gitdir } = repository;
    const folderKey = `${gitdir}\0${prefix}`;
    const memory = this.folders.get(folderKey);
    const { tree, samePrefix, sameSuffix } = await this.store.readTreeAfter(
      gitdir,
      oid,
      memory?.tree,
    );
    const entries = tree.entries;
    const count = entries.length;

    // Files of entries this tree shares with the folder's previous tree are reused as they are.
    const direct = new Array<SourceFile | undefined>(count);
    if (memory !== undefined) {
      const previous = memory.direct;
      for (let i = 0; i < samePrefix; i += 1) direct[i] = previous[i];
      for (let j = 1; j <= sameSuffix; j += 1) direct[count - j] = previous[previous.length - j];
    }
    const fresh: number[] = [];
    for (let i = samePrefix; i < count - sameSuffix; i += 1) {
      const entry = entries[i] as TreeEntry;
      if (entry.kind === 'blob' && isManifestName(entry.name)) fresh.push(i);
    }
    const children = new Map<number, Promise<Listing>>();
    for (let i = 0; i < count; i += 1) {
      const entry = entries[i] as TreeEntry;
      if (entry.kind === 'tree')
        children.set(i, this.listTree(repository, entry.oid, `${prefix}${entry.name}/`));
    }
    await Promise.all(
      fresh.map(async (i) => {
        const entry = entries[i] as TreeEntry;
        const size =
          this.store.knownBlobSize(entry.oid) ?? (await this.store.blobSize(gitdir, entry.oid));
        direct[i] = new GitSourceFile(prefix + entry.name, entry.oid, size, this.store, gitdir);
      }),
    );
    const childListings = new Map<number, Listing>();
    await Promise.all(
      [...children].map(async ([i, listing]) => childListings.set(i, await listing)),
    );
    this.folders.set(folderKey, { tree, direct }, count + 1);

    const files: SourceFile[] = [];
    const links: LinkEntry[] = [];
    for (let i = 0; i < count; i += 1) {
      const file = direct[i];
      if (file !== undefined) {
        files.push(file);
        continue;
      }
      const entry = entries[i] as TreeEntry;
      if (entry.kind === 'tree') {
        const child = childListings.get(i);
        if (child === undefined) continue;
        for (const childFile of child.files) files.push(childFile);
        for (const link of child.links) links.push(link);
      } else if (entry.kind === 'symlink') {
        links.push({ path: prefix + entry.name, oid: entry.oid });
      }
      // Submodules: their commit is not in this repository's object database.
    }
    return { files: sortByPath(files), links };
  }

  private async pathNotFound(
    repository: GitRepository,
    commit: ResolvedCommit,
    subpath: string,
    why: 'missing' | 'outside' | 'loop' | 'submodule',
  ): Promise<BerthError> {
    const reason = {
      missing: 'is not in the tree',
      outside: 'is a symbolic link that leads outside the repository',
      loop: 'goes through too many symbolic links',
      submodule: 'is a submodule, whose files are not in this repository',
    }[why];
    const folders = (await this.readTree(repository, commit.tree))
      .filter((entry) => entry.kind === 'tree')
      .map((entry) => entry.name);
    return new BerthError(
      'SOURCE_PATH_NOT_FOUND',
      `--path '${subpath}' ${reason} at commit ${commit.commit.slice(0, 12)} of ${repository.label}`,
      {
        hint:
          folders.length === 0
            ? 'the commit has no folders'
            : `folders at the top of the commit: ${folders.slice(0, 20).join(', ')}${folders.length > 20 ? ', ...' : ''}`,
      },
    );
  }
}

/** Resolves the symlinks of one listing against one commit's tree, as a checkout would see them. */
class LinkWalk {
  private readonly problems: Problem[] = [];
  private readonly extra: SourceFile[] = [];
  /** Real paths whose files are already listed: the scope, and every folder a link expanded. */
  private readonly listedFolders: string[] = [];
  private readonly listedFiles = new Set<string>();
  /** The scope's `.berthignore` rules, and the shown path they are relative to. */
  private rules: IgnoreRules | undefined;
  private shownRoot = '';

  constructor(
    private readonly lister: GitTreeLister,
    private readonly repository: GitRepository,
    private readonly rootTree: string,
  ) {}

  /** Follows `repoPath` from the root, through symlinks, to what it names. */
  async resolve(repoPath: string, hops = { count: 0 }): Promise<Resolved> {
    const parts = repoPath.split('/').filter((part) => part !== '');
    let tree = this.rootTree;
    let walked = '';
    for (let i = 0; i < parts.length; i += 1) {
      const name = parts[i] as string;
      const last = i === parts.length - 1;
      const entry = (await this.lister.readTree(this.repository, tree)).find(
        (e) => e.name === name,
      );
      if (entry === undefined) return { kind: 'missing' };
      const here = joinRepoPath(walked, name);
      switch (entry.kind) {
        case 'tree':
          if (last) return { kind: 'tree', oid: entry.oid, path: here };
          tree = entry.oid;
          walked = here;
          break;
        case 'blob':
          return last ? { kind: 'blob', oid: entry.oid, path: here } : { kind: 'missing' };
        case 'symlink': {
          hops.count += 1;
          if (hops.count > MAX_SYMLINK_HOPS) return { kind: 'loop' };
          const target = await this.lister.readSymlinkTarget(this.repository, entry.oid);
          const next = targetPath(walked, target);
          if (next === undefined) return { kind: 'outside' };
          return this.resolve(joinRepoPath(next, parts.slice(i + 1).join('/')), hops);
        }
        case 'submodule':
        case 'other':
          return last ? { kind: 'submodule' } : { kind: 'missing' };
      }
    }
    return { kind: 'tree', oid: tree, path: walked };
  }

  /**
   * Leaves out what `rules` ignore, adds what the listing's links lead to, and the problems of
   * those that cannot be followed. An ignored link is not followed; a link into an ignored part
   * of the scope lists nothing (that part counts as listed already).
   */
  async finish(
    listing: Listing,
    shownRoot: string,
    realRoot: string,
    rules?: IgnoreRules,
  ): Promise<GitFileList> {
    this.listedFolders.push(realRoot);
    this.rules = rules;
    this.shownRoot = shownRoot;
    const own = this.kept(listing.files);
    await this.followLinks(listing.links, shownRoot, realRoot);
    if (this.extra.length === 0 && this.problems.length === 0) return { files: own, problems: [] };
    const files = sortByPath([...own, ...this.extra]);
    return { files, problems: this.problems };
  }

  /** The files the rules do not ignore (all of them, and the same array, without rules). */
  private kept(files: readonly SourceFile[]): readonly SourceFile[] {
    const rules = this.rules;
    if (rules === undefined) return files;
    return files.filter((file) => !rules.ignores(relativeTo(this.shownRoot, file.path)));
  }

  /** An ignored link, as a file or as a folder, is not followed. */
  private ignoresLink(shown: string): boolean {
    if (this.rules === undefined) return false;
    const relative = relativeTo(this.shownRoot, shown);
    return this.rules.ignores(relative) || this.rules.ignores(`${relative}/`);
  }

  private async followLinks(
    links: readonly LinkEntry[],
    shownRoot: string,
    realRoot: string,
  ): Promise<void> {
    for (const link of links) {
      if (this.ignoresLink(link.path)) continue;
      // Where the link really is: relative targets are relative to the link's real folder.
      await this.followLink(link, rebase(link.path, shownRoot, realRoot));
    }
  }

  private async followLink(link: LinkEntry, realLink: string): Promise<void> {
    const target = await this.lister.readSymlinkTarget(this.repository, link.oid);
    const linkName = path.posix.basename(link.path);
    const next = targetPath(parentOf(realLink), target);
    const resolved: Resolved =
      next === undefined ? { kind: 'outside' } : await this.resolve(next, { count: 1 });
    switch (resolved.kind) {
      case 'outside':
        if (isManifestName(linkName) || isManifestName(target) || !linkName.includes('.')) {
          this.problem(
            'file.symlink-outside',
            link.path,
            `symbolic link '${link.path}' points to '${target}', outside the repository; it is not read`,
          );
        }
        return;
      case 'loop':
        if (isManifestName(linkName)) {
          this.problem(
            'file.unreadable',
            link.path,
            `symbolic link '${link.path}' goes through too many symbolic links; it is not read`,
          );
        }
        return;
      case 'missing':
        if (isManifestName(linkName)) {
          this.problem(
            'file.unreadable',
            link.path,
            `symbolic link '${link.path}' points to '${target}', which does not exist at this commit`,
          );
        }
        return;
      case 'submodule':
        return;
      case 'blob': {
        if (!isManifestName(linkName)) return;
        // A file already listed at its own path is listed once, there.
        if (this.isListedFile(resolved.path) || this.listedFiles.has(resolved.path)) return;
        this.listedFiles.add(resolved.path);
        this.extra.push(await this.lister.fileAt(this.repository, link.path, resolved.oid));
        return;
      }
      case 'tree': {
        // A folder already listed (or an ancestor of one: a cycle) is not listed again.
        if (
          this.listedFolders.some(
            (folder) => isWithin(folder, resolved.path) || isWithin(resolved.path, folder),
          )
        )
          return;
        this.listedFolders.push(resolved.path);
        const listing = await this.lister.listTree(this.repository, resolved.oid, `${link.path}/`);
        for (const file of this.kept(listing.files)) {
          // A file some earlier link already listed is not listed a second time.
          const real = rebase(file.path, link.path, resolved.path);
          if (this.listedFiles.has(real)) continue;
          this.listedFiles.add(real);
          this.extra.push(file);
        }
        await this.followLinks(listing.links, link.path, resolved.path);
        return;
      }
    }
  }

  private isListedFile(realPath: string): boolean {
    return (
      isManifestName(path.posix.basename(realPath)) &&
      this.listedFolders.some((folder) => isWithin(folder, realPath))
    );
  }

  private problem(code: Problem['code'], file: string, message: string): void {
    this.problems.push({ code, origin: { file, line: 1, column: 1 }, message });
  }
}

/** A link's target as a repository path, from the link's folder; undefined when it leaves the repository. */
function targetPath(linkFolder: string, target: string): string | undefined {
  if (target === '' || target.startsWith('/')) return undefined;
  const joined = path.posix.normalize(joinRepoPath(linkFolder, target));
  if (joined === '..' || joined.startsWith('../')) return undefined;
  return joined === '.' ? '' : joined.replace(/\/+$/, '');
}

/** The folder holding a repository path ('' for top-level entries). */
function parentOf(repoPath: string): string {
  const slash = repoPath.lastIndexOf('/');
  return slash < 0 ? '' : repoPath.slice(0, slash);
}

/** `shown` is below `shownRoot`; the same place below `realRoot`. */
function rebase(shown: string, shownRoot: string, realRoot: string): string {
  if (shownRoot === realRoot) return shown;
  const rest = shownRoot === '' ? shown : shown.slice(shownRoot.length + 1);
  return joinRepoPath(realRoot, rest);
}
