/**
 * From the files of a source to validated, defaulted objects. Each file's result depends only
 * on its bytes and its display path, so results are cached by (blob id, path): reloading a
 * commit that changed one file parses one file. Reading goes through the small `ManifestFile`
 * interface, so this module never touches git or the disk itself.
 */
import { compareProblems, type Problem } from '../model/problem.js';
import { parseManifestFile } from './parse.js';
import { extractObjects } from './schema.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject, type ParseLimits } from './types.js';
import { validateAcross, validateAndDefault } from './validate.js';

/** What the loader needs of a source file (operator/source's SourceFile has this shape). */
export interface ManifestFile {
  /** Path shown in messages. */
  readonly display: string;
  /** Git blob id of the content: equal ids mean equal bytes. */
  readonly blobId: string;
  readonly size: number;
  read(): Promise<Uint8Array>;
}

/** The result of one file, reusable whenever the same bytes appear at the same path. */
export interface FileResult {
  /** Schema-valid objects, defaulted. Objects with semantic problems are kept (for duplicates). */
  readonly objects: readonly ManifestObject[];
  readonly problems: readonly Problem[];
}

export interface ManifestSet {
  /** Every schema-valid object, defaulted, in file order. */
  readonly objects: readonly ManifestObject[];
  /** Every problem, sorted by file, line and column. Empty means valid. */
  readonly problems: readonly Problem[];
  readonly fileCount: number;
  /** How many files were parsed in this load (the rest came from the cache). */
  readonly parsedCount: number;
}

/** Pure: one file's bytes in, its objects and problems out. */
export function processFile(display: string, bytes: Uint8Array, limits: ParseLimits): FileResult {
  const parsed = parseManifestFile(display, bytes, limits);
  const problems: Problem[] = [...parsed.problems];
  const objects: ManifestObject[] = [];
  for (const document of parsed.documents) {
    const extracted = extractObjects(document);
    problems.push(...extracted.problems);
    for (const object of extracted.objects) {
      const checked = validateAndDefault(object);
      problems.push(...checked.problems);
      objects.push(checked.defaulted);
    }
  }
  return { objects, problems };
}

/**
 * Keeps file results between loads. Entries not used by the latest load are dropped, so the
 * cache holds one source's worth of files, not its history.
 */
export class ManifestCache {
  private entries = new Map<string, FileResult>();

  get size(): number {
    return this.entries.size;
  }

  /** @internal used by loadManifests */
  swap(next: Map<string, FileResult>): void {
    this.entries = next;
  }

  /** @internal used by loadManifests */
  lookup(key: string): FileResult | undefined {
    return this.entries.get(key);
  }
}

function tooLarge(file: ManifestFile, limits: ParseLimits): FileResult {
  return {
    objects: [],
    problems: [
      {
        code: 'file.too-large',
        origin: { file: file.display, line: 1, column: 1 },
        message: `file is ${file.size} bytes, over the limit of ${limits.maxFileBytes} bytes; split it, or raise the limit with --max-file-size`,
      },
    ],
  };
}

export async function loadManifests(
  files: readonly ManifestFile[],
  options: { cache?: ManifestCache; limits?: Partial<ParseLimits> } = {},
): Promise<ManifestSet> {
  const limits: ParseLimits = { ...DEFAULT_PARSE_LIMITS, ...options.limits };
  const cache = options.cache;
  const next = new Map<string, FileResult>();
  const results: FileResult[] = new Array(files.length);
  let parsedCount = 0;

  const pending: Promise<void>[] = [];
  files.forEach((file, index) => {
    const key = `${file.blobId}\u0000${file.display}\u0000${limits.maxFileBytes}`;
    const cached = cache?.lookup(key);
    if (cached !== undefined) {
      results[index] = cached;
      next.set(key, cached);
      return;
    }
    if (file.size > limits.maxFileBytes) {
      results[index] = tooLarge(file, limits);
      return;
    }
    parsedCount += 1;
    pending.push(
      file.read().then((bytes) => {
        const result = processFile(file.display, bytes, limits);
        results[index] = result;
        next.set(key, result);
      }),
    );
  });
  await Promise.all(pending);
  cache?.swap(next);

  const objects: ManifestObject[] = [];
  const problems: Problem[] = [];
  for (const result of results) {
    objects.push(...result.objects);
    problems.push(...result.problems);
  }
  problems.push(...validateAcross(objects));
  problems.sort(compareProblems);
  return { objects, problems, fileCount: files.length, parsedCount };
}
