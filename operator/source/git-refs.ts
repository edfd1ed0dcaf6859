/** From a ref the user typed (branch, tag, HEAD, full or short sha) to a commit and its tree. */

/** From a ref the user typed (branch, tag, HEAD, full or short sha) to a commit and its tree. */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { BerthError } from '../model/errors.js';
import { errorMessage, type ObjectStore } from './git-objects.js';
import type { GitRepository } from './git-repository.js';

export interface ResolvedCommit {
  readonly commit: string;
  readonly tree: string;
}

/** How many names of each kind a "ref not found" message lists before "and N more". */
const LISTED_NAMES = 20;
/** Annotated tags can point at tags; git gives up somewhere too. */
const MAX_TAG_DEPTH = 16;

/**
 * git's check-ref-format rules that matter here: a ref from the command line must not reach
 * outside refs/ (`..`), nor use revision syntax we do not implement (`~`, `^`, `:`, `@{`).
 */
export function checkRefName(ref: string): void {
  const bad =
    ref === '' ||
    ref.startsWith('/') ||
    ref.startsWith('-') ||
    ref.endsWith('/') ||
    ref.endsWith('.') ||
    ref.endsWith('.lock') ||
    ref.includes('..') ||
    ref.includes('//') ||
    ref.includes('@{') ||
    ref.split('/').some((part) => part.startsWith('.')) ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    /[\u0000-\u0020\u007f~^:?*[\\]/.test(ref);
  if (bad) {
    throw new BerthError('SOURCE_REF_NOT_FOUND', `'${ref}' is not a valid ref name`, {
      hint: 'give a branch, a tag or a commit sha (revision expressions like main~1 are not supported)',
    });
  }
}

export function looksLikeSha(ref: string): boolean {
  return /^[0-9a-f]{4,40}$/i.test(ref);
}

/** Resolves `ref` (default HEAD) in a local repository, peeling annotated tags to their commit. */
export async function resolveCommit(
  store: ObjectStore,
  repository: GitRepository,
  ref: string | undefined,
): Promise<ResolvedCommit> {
  const wanted = ref ?? 'HEAD';
  checkRefName(wanted);
  const oid =
    (await resolveName(repository, wanted)) ??
    (looksLikeSha(wanted) ? await expandSha(store, repository, wanted.toLowerCase()) : undefined);
  if (oid === undefined) throw await refNotFound(repository, wanted);
  return peelToCommit(store, repository, oid, wanted);
}

/** The commit an object id leads to: itself, or what an annotated tag (chain) points at. */
export async function peelToCommit(
  store: ObjectStore,
  repository: GitRepository,
  oid: string,
  ref: string,
): Promise<ResolvedCommit> {
  let current = oid;
  for (let depth = 0; depth < MAX_TAG_DEPTH; depth += 1) {
    let loaded: Awaited<ReturnType<ObjectStore['readObject']>>;
    try {
      loaded = await store.readObject(repository.gitdir, current);
    } catch (error) {
      if (current === oid && /^[0-9a-f]{40}$/.test(ref.toLowerCase())) {
        // A full sha is taken as given by ref resolution; absent, it is simply not found.
        throw await refNotFound(repository, ref);
      }
      throw error;
    }
    const text = loaded.content.toString('latin1', 0, Math.min(loaded.content.length, 200));
    if (loaded.type === 'commit') {
      const tree = /^tree ([0-9a-f]{40})$/m.exec(text)?.[1];
      if (tree === undefined) {
        throw new BerthError(
          'SOURCE_READ_FAILED',
          `commit ${current} in ${repository.label} has no tree`,
        );
      }
      return { commit: current, tree };
    }
    if (loaded.type !== 'tag') {
      throw new BerthError(
        'SOURCE_REF_NOT_FOUND',
        `ref '${ref}' in ${repository.label} names a ${loaded.type} (${current}), not a commit`,
      );
    }
    const target = /^object ([0-9a-f]{40})$/m.exec(text)?.[1];
    if (target === undefined) {
      throw new BerthError(
        'SOURCE_READ_FAILED',
        `tag ${current} in ${repository.label} has no object`,
      );
    }
    current = target;
  }
  throw new BerthError(
    'SOURCE_REF_NOT_FOUND',
    `ref '${ref}' in ${repository.label}: tags nest too deep`,
  );
}

async function resolveName(repository: GitRepository, ref: string): Promise<string | undefined> {
  try {
    if (ref === 'HEAD' && repository.headGitdir !== repository.gitdir) {
      // A linked worktree has its own HEAD; everything it points to lives in the common dir.
      const head = (await fsp.readFile(path.join(repository.headGitdir, 'HEAD'), 'utf8')).trim();
      const symbolic = /^ref:\s*(.+)$/.exec(head)?.[1];
      if (symbolic === undefined) return head;
      return await git.resolveRef({ fs, gitdir: repository.gitdir, ref: symbolic });
    }
    return await git.resolveRef({ fs, gitdir: repository.gitdir, ref });
  } catch (error) {
    if (isGitError(error, 'NotFoundError')) return undefined;
    throw new BerthError(
      'SOURCE_READ_FAILED',
      `cannot resolve ref '${ref}' in ${repository.label}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

async function expandSha(
  store: ObjectStore,
  repository: GitRepository,
  short: string,
): Promise<string | undefined> {
  try {
    return await git.expandOid({
      fs,
      gitdir: repository.gitdir,
      oid: short,
      cache: store.gitCache,
    });
  } catch (error) {
    if (isGitError(error, 'NotFoundError')) return undefined;
    if (!isGitError(error, 'AmbiguousError')) throw error;
    // As git does for a commit-ish: only commits and tags count when a prefix is ambiguous.
    const candidates = ambiguousCandidates(error);
    const usable: string[] = [];
    for (const candidate of candidates) {
      const { type } = await store.readObject(repository.gitdir, candidate);
      if (type === 'commit' || type === 'tag') usable.push(candidate);
    }
    if (usable.length === 1) return usable[0];
    throw new BerthError(
      'SOURCE_REF_NOT_FOUND',
      `short sha '${short}' is ambiguous in ${repository.label}: it matches ${(usable.length > 0 ? usable : candidates).join(', ')}`,
      { hint: 'give more digits of the sha' },
    );
  }
}

/** "ref 'nope' not found in <repo>; branches: main, dev; tags: v1" */
export async function refNotFound(repository: GitRepository, ref: string): Promise<BerthError> {
  const [branches, tags] = await Promise.all([
    git.listBranches({ fs, gitdir: repository.gitdir }).catch(() => [] as string[]),
    git.listTags({ fs, gitdir: repository.gitdir }).catch(() => [] as string[]),
  ]);
  return refNotFoundError(repository.label, ref, branches, tags);
}

export function refNotFoundError(
  label: string,
  ref: string,
  branches: readonly string[],
  tags: readonly string[],
): BerthError {
  if (branches.length === 0 && tags.length === 0) {
    return new BerthError(
      'SOURCE_REF_NOT_FOUND',
      `ref '${ref}' not found in ${label}: it has no branches or tags yet`,
      {
        hint: 'commit something first, or check the repository path',
      },
    );
  }
  return new BerthError(
    'SOURCE_REF_NOT_FOUND',
    `ref '${ref}' not found in ${label}; branches: ${nameList(branches)}; tags: ${nameList(tags)}`,
    { hint: 'give one of the branches or tags listed, or a commit sha' },
  );
}

function nameList(names: readonly string[]): string {
  if (names.length === 0) return '(none)';
  const sorted = [...names].sort();
  const shown = sorted.slice(0, LISTED_NAMES).join(', ');
  return sorted.length > LISTED_NAMES ? `${shown} and ${sorted.length - LISTED_NAMES} more` : shown;
}

/** isomorphic-git errors carry a stable `code` naming their class. */
export function isGitError(
  error: unknown,
  code: string,
): error is Error & { code: string; data?: unknown } {
  return error instanceof Error && (error as { code?: unknown }).code === code;
}

function ambiguousCandidates(error: Error & { data?: unknown }): string[] {
  const data = error.data as { matches?: unknown } | undefined;
  return Array.isArray(data?.matches)
    ? data.matches.filter((m): m is string => typeof m === 'string')
    : [];
}
