import type { Problem } from '../model/problem.js';

/** What to read: a directory, a git repository (working tree or bare) or an https URL. */
export interface SourceRequest {
  /** A directory, a git repository path (working tree or bare), or an https URL. */
  location: string;
  /** Branch, tag or commit (full or abbreviated sha). @default HEAD for repositories and URLs; a directory is read from disk unless a ref is given */
  ref?: string;
  /** Subfolder inside the source; only files below it are listed. @default the whole source */
  path?: string;
  /** Where URL sources are fetched. @default ~/.cache/berth/sources */
  cacheDir?: string;
}

export interface SourceFile {
  /** Posix path relative to the source root (repository root or directory), e.g. `guestbook/frontend.yaml`. */
  readonly path: string;
  /** Path shown in messages: the directory as typed joined with `path`; for git sources, the path in the repository. */
  readonly display: string;
  /** Git blob id of the content (for directories, computed as `git hash-object` does). */
  readonly blobId: string;
  readonly size: number;
  /** Reads the bytes; lazy, so callers holding a result for `blobId` need not call it. */
  read(): Promise<Uint8Array>;
}

export type SourceKind = 'directory' | 'git' | 'url';

export interface SourceSnapshot {
  readonly kind: SourceKind;
  /** The location as requested. */
  readonly location: string;
  /** Resolved commit sha for git and url sources. */
  readonly commit: string | undefined;
  /** Only `*.yaml`, `*.yml`, `*.json` below `path` that its `.berthignore` does not ignore, sorted by path. */
  readonly files: readonly SourceFile[];
  /** Files that were found but not listed, e.g. `file.symlink-outside`. */
  readonly problems: readonly Problem[];
}

export interface SourceReader {
  open(request: SourceRequest): Promise<SourceSnapshot>;
}

/** Counters of the expensive steps, so tests and benchmarks can see what a cache saved. */
export interface SourceReaderStats {
  /** Git tree objects read and parsed (each tree oid is read once while it stays cached). */
  treesRead: number;
  /** Git blobs whose size had to be learned from the object database. */
  blobSizesRead: number;
  /** Files of directory sources read and hashed (the rest reused an unchanged stat). */
  filesHashed: number;
  /** Network fetches of URL sources. */
  fetches: number;
}

export interface CachingSourceReader extends SourceReader {
  /** Live counters; they only grow. */
  readonly stats: Readonly<SourceReaderStats>;
}
