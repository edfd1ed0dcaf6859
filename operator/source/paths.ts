/** Path rules shared by every kind of source. Repository paths are posix, without a leading `/`. */
import path from 'node:path';
import { BerthError } from '../model/errors.js';

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

/** `*.yaml`, `*.yml`, `*.json`, as kubectl picks files from a folder (case-sensitive, as kubectl is). */
export function isManifestName(name: string): boolean {
  return MANIFEST_EXTENSIONS.some((extension) => name.endsWith(extension));
}

/**
 * The `--path` of a request in canonical form: '' for the whole source, else `a/b` with no
 * `.`, `..`, doubled or trailing slashes. A path that leaves the source is refused.
 */
export function normalizeSubpath(requested: string | undefined): string {
  if (requested === undefined) return '';
  const trimmed = requested.trim();
  if (trimmed === '' || trimmed === '.' || trimmed === './') return '';
  if (trimmed.startsWith('/')) {
    throw new BerthError(
      'SOURCE_PATH_NOT_FOUND',
      `--path '${requested}' is absolute; it must be a folder inside the source`,
      { hint: 'give the path relative to the source root, e.g. --path guestbook' },
    );
  }
  const normal = path.posix.normalize(trimmed.replaceAll('\\', '/')).replace(/\/+$/, '');
  if (normal === '.' || normal === '') return '';
  if (normal === '..' || normal.startsWith('../')) {
    throw new BerthError('SOURCE_PATH_NOT_FOUND', `--path '${requested}' leaves the source`, {
      hint: 'give a folder inside the source',
    });
  }
  return normal;
}

/** True when `candidate` is `folder` or below it; every path is below the root ''. */
export function isWithin(folder: string, candidate: string): boolean {
  return folder === '' || candidate === folder || candidate.startsWith(`${folder}/`);
}

/** `a` + `b` as repository paths, where '' is the root. */
export function joinRepoPath(parent: string, name: string): string {
  if (parent === '') return name;
  if (name === '') return parent;
  return `${parent}/${name}`;
}

/** True when the repository path has a component the directory walk skips. */
export function isSkippedFolderName(name: string): boolean {
  return name === '.git' || name === 'node_modules';
}

/** Byte order of UTF-16 code units: the order files are listed in (stable, locale-free). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts in place unless already sorted (listings built from git trees usually are). */
export function sortByPath<T extends { readonly path: string }>(items: T[]): T[] {
  for (let i = 1; i < items.length; i += 1) {
    if ((items[i - 1] as T).path > (items[i] as T).path) {
      return items.sort((a, b) => comparePaths(a.path, b.path));
    }
  }
  return items;
}
