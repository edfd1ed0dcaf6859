/** Finding the git directory of a location: a bare repository, or the repository around a folder. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface GitRepository {
  /** Object database and refs; for a linked worktree, the common git directory. */
  readonly gitdir: string;
  /** Where HEAD is read: differs from `gitdir` only in a linked worktree. */
  readonly headGitdir: string;
  /** How messages name the repository: the location as typed, or the URL. */
  readonly label: string;
}

/** A folder with HEAD, objects/ and refs/ is a git directory (bare, or a `.git` given directly). */
export async function isGitDirectory(dir: string): Promise<boolean> {
  const [head, objects, refs] = await Promise.all([
    statOrUndefined(path.join(dir, 'HEAD')),
    statOrUndefined(path.join(dir, 'objects')),
    statOrUndefined(path.join(dir, 'refs')),
  ]);
  return head?.isFile() === true && objects?.isDirectory() === true && refs?.isDirectory() === true;
}

/**
 * The repository whose working tree holds `dirReal` (a real path), found by walking up to the
 * nearest `.git` as git does; undefined when there is none. `root` is the working tree's real
 * path and `prefix` the folder's posix path inside it ('' at its root).
 */
export async function findEnclosingRepository(
  dirReal: string,
  label: string,
): Promise<{ repository: GitRepository; root: string; prefix: string } | undefined> {
  let current = dirReal;
  for (;;) {
    const dotGit = path.join(current, '.git');
    const stat = await lstatOrUndefined(dotGit);
    let gitdir: string | undefined;
    if (stat?.isDirectory()) gitdir = dotGit;
    else if (stat?.isFile()) gitdir = await readGitdirPointer(dotGit);
    if (gitdir !== undefined && (await isGitDirectoryOrWorktree(gitdir))) {
      const prefix = path.relative(current, dirReal).split(path.sep).join('/');
      return { repository: await repositoryAt(gitdir, label), root: current, prefix };
    }
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/** A git directory as a repository; a linked worktree's objects and refs live in its common dir. */
export async function repositoryAt(gitdir: string, label: string): Promise<GitRepository> {
  const commondir = await readTextOrUndefined(path.join(gitdir, 'commondir'));
  if (commondir === undefined) return { gitdir, headGitdir: gitdir, label };
  return { gitdir: path.resolve(gitdir, commondir.trim()), headGitdir: gitdir, label };
}

/** `.git` as a file (submodules, linked worktrees) holds `gitdir: <path>`, relative to its folder. */
async function readGitdirPointer(file: string): Promise<string | undefined> {
  const text = await readTextOrUndefined(file);
  const match = text?.match(/^gitdir:\s*(.+?)\s*$/m);
  if (match?.[1] === undefined) return undefined;
  return path.resolve(path.dirname(file), match[1]);
}

async function isGitDirectoryOrWorktree(gitdir: string): Promise<boolean> {
  if (await isGitDirectory(gitdir)) return true;
  // A linked worktree's git dir has HEAD and commondir but no objects/ of its own.
  const [head, commondir] = await Promise.all([
    statOrUndefined(path.join(gitdir, 'HEAD')),
    statOrUndefined(path.join(gitdir, 'commondir')),
  ]);
  return head?.isFile() === true && commondir?.isFile() === true;
}

export async function statOrUndefined(file: string) {
  try {
    return await fsp.stat(file);
  } catch {
    return undefined;
  }
}

async function lstatOrUndefined(file: string) {
  try {
    return await fsp.lstat(file);
  } catch {
    return undefined;
  }
}

async function readTextOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}
