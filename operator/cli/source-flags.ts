import path from 'node:path';
import { createSourceReader, type SourceSnapshot } from '../source/index.js';
import type { CliIo } from './io.js';

/** The flags every command that reads a SOURCE takes. */
export const sourceOptions = {
  ref: { type: 'string' },
  path: { type: 'string' },
  'cache-dir': { type: 'string' },
} as const;

export const SOURCE_FLAGS_HELP = `SOURCE is a directory (files as on disk, uncommitted ones included), a git repository
(working tree with --ref, or bare), or an https URL of a git repository.
      --ref REF           branch, tag or commit to read (@default HEAD for repositories;
                          a directory is read from disk unless --ref is given)
      --path PATH         only read manifests below this folder of the source
      --cache-dir DIR     where URL sources are fetched (@default ~/.cache/berth/sources,
                          or $BERTH_CACHE_DIR)`;

export interface SourceFlagValues {
  ref?: string | undefined;
  path?: string | undefined;
  'cache-dir'?: string | undefined;
}

export async function openSourceFromFlags(
  location: string,
  values: SourceFlagValues,
  io: CliIo,
): Promise<SourceSnapshot> {
  const cacheDir = values['cache-dir'] ?? io.env.BERTH_CACHE_DIR;
  const reader = createSourceReader();
  return reader.open({
    // Kept as typed (relative to the process's cwd) so messages show paths in the user's form.
    location,
    ...(values.ref === undefined ? {} : { ref: values.ref }),
    ...(values.path === undefined ? {} : { path: values.path }),
    ...(cacheDir === undefined ? {} : { cacheDir: path.resolve(io.cwd, cacheDir) }),
  });
}
