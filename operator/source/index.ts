/**
 * Sources: where manifests come from. A directory (files as on disk), a git repository at a
 * ref (read from its object database with isomorphic-git), or an https URL fetched into a
 * cache. One long-lived reader per process keeps the caches that make re-opening cheap.
 */
export { gitBlobId } from './directory.js';
export { createSourceReader, type SourceReaderOptions } from './reader.js';
export type {
  CachingSourceReader,
  SourceFile,
  SourceKind,
  SourceReader,
  SourceReaderStats,
  SourceRequest,
  SourceSnapshot,
} from './types.js';
export { DEFAULT_CACHE_DIR } from './url.js';
