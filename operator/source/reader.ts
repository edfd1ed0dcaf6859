/** The source reader: decides what a location is and hands it to the directory, git or URL reader. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { BerthError } from '../model/errors.js';
import { DirectoryLister } from './directory.js';
import { errorMessage, ObjectStore } from './git-objects.js';
import { resolveCommit } from './git-refs.js';
import {
  findEnclosingRepository,
  type GitRepository,
  isGitDirectory,
  repositoryAt,
} from './git-repository.js';
import { GitTreeLister } from './git-tree.js';
import { joinRepoPath, normalizeSubpath } from './paths.js';
import type {
  CachingSourceReader,
  SourceReaderStats,
  SourceRequest,
  SourceSnapshot,
} from './types.js';
import {
  checkSourceUrl,
  DEFAULT_CACHE_DIR,
  hasUrlScheme,
  looksLikeScpAddress,
  UrlFetcher,
} from './url.js';

export interface SourceReaderOptions {
  /** Where URL sources are fetched when a request names no cacheDir. @default ~/.cache/berth/sources */
  readonly cacheDir?: string;
  /** HTTP client for URL sources. @default isomorphic-git/http/node */
  readonly http?: HttpClient;
  /** A fetch that receives nothing for this long fails as SOURCE_UNREACHABLE. @default 30_000 ms */
  readonly fetchIdleTimeoutMs?: number;
  /**
   * Who reads packed and loose objects: berth's pack reader, with isomorphic-git for what it
   * does not find, or isomorphic-git for everything (much slower on delta-compressed packs).
   * @default 'native'
   */
  readonly objectReader?: 'native' | 'isomorphic-git';
}

/**
 * A long-lived reader: keep one per process. It caches git trees by id, file lists per
 * (repository, commit, path), blob sizes, and the stat-to-hash map of directory files, so
 * re-opening a source after a small change costs about the change.
 */
export function createSourceReader(options: SourceReaderOptions = {}): CachingSourceReader {
  const stats: SourceReaderStats = { treesRead: 0, blobSizesRead: 0, filesHashed: 0, fetches: 0 };
  const store = new ObjectStore(stats, options.objectReader !== 'isomorphic-git');
  const trees = new GitTreeLister(store);
  const directories = new DirectoryLister(stats);
  const urls = new UrlFetcher(store, stats, {
    http: options.http ?? nodeHttp,
    idleTimeoutMs: options.fetchIdleTimeoutMs ?? 30_000,
  });

  async function openGit(
    request: SourceRequest,
    repository: GitRepository,
    prefix: string,
    kind: 'git' | 'url',
  ): Promise<SourceSnapshot> {
    const subpath = joinRepoPath(prefix, normalizeSubpath(request.path));
    await store.refresh();
    const commit = await resolveCommit(store, repository, request.ref);
    const list = await trees.list(repository, commit, subpath);
    return {
      kind,
      location: request.location,
      commit: commit.commit,
      files: list.files,
      problems: list.problems,
    };
  }

  async function open(request: SourceRequest): Promise<SourceSnapshot> {
    const { location } = request;
    if (hasUrlScheme(location)) {
      const url = checkSourceUrl(location);
      const subpath = normalizeSubpath(request.path);
      await store.refresh();
      const fetched = await urls.fetch(
        url,
        request.ref,
        request.cacheDir ?? options.cacheDir ?? DEFAULT_CACHE_DIR,
      );
      const list = await trees.list(fetched.repository, fetched.commit, subpath);
      return {
        kind: 'url',
        location,
        commit: fetched.commit.commit,
        files: list.files,
        problems: list.problems,
      };
    }

    let stat: Awaited<ReturnType<typeof fsp.stat>>;
    let real: string;
    try {
      stat = await fsp.stat(location);
      real = await fsp.realpath(location);
    } catch (error) {
      if (looksLikeScpAddress(location)) {
        throw new BerthError(
          'SOURCE_UNSUPPORTED_URL',
          `'${location}' looks like an ssh address; berth fetches over https only`,
          {
            hint: 'give the https URL of the repository, or clone it and give the local path',
          },
        );
      }
      const code = (error as NodeJS.ErrnoException).code;
      throw new BerthError(
        'SOURCE_NOT_FOUND',
        code === 'ENOENT'
          ? `${location} does not exist`
          : `${location} cannot be read: ${errorMessage(error)}`,
        { hint: 'give a directory, a git repository path or an https URL' },
      );
    }

    if (stat.isDirectory() && (await isGitDirectory(real))) {
      return openGit(request, await repositoryAt(real, location), '', 'git');
    }

    const isFile = !stat.isDirectory();
    if (request.ref !== undefined) {
      const folder = isFile ? path.dirname(real) : real;
      const found = await findEnclosingRepository(folder, location);
      if (found === undefined) {
        throw new BerthError(
          'SOURCE_NOT_A_REPOSITORY',
          `--ref '${request.ref}' was given, but ${location} is not inside a git repository`,
          {
            hint: 'leave out --ref to read the files on disk, or give a repository',
          },
        );
      }
      const prefix = isFile ? joinRepoPath(found.prefix, path.basename(real)) : found.prefix;
      const label = repositoryLabel(location, found.root, found.prefix);
      return openGit(request, { ...found.repository, label }, prefix, 'git');
    }

    const subpath = normalizeSubpath(request.path);
    const list = isFile
      ? subpath === ''
        ? await directories.list(
            path.dirname(location),
            await fsp.realpath(path.dirname(location)),
            '',
            path.basename(location),
          )
        : fileHasNoFolders(location, subpath)
      : await directories.list(location, real, subpath);
    return {
      kind: 'directory',
      location,
      commit: undefined,
      files: list.files,
      problems: list.problems,
    };
  }

  return { open, stats };
}

/** Messages name the repository's working tree: as typed when that is the location, else in the same form. */
function repositoryLabel(location: string, root: string, prefix: string): string {
  if (prefix === '') return location;
  if (path.isAbsolute(location)) return root;
  return path.relative(process.cwd(), root) || '.';
}

function fileHasNoFolders(location: string, subpath: string): never {
  throw new BerthError(
    'SOURCE_PATH_NOT_FOUND',
    `--path '${subpath}' cannot be below ${location}, which is a file`,
  );
}
