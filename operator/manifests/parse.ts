/**
 * Manifest files to plain JSON documents with positions, read the way Kubernetes reads them
 * (kubectl → sigs.k8s.io/yaml → go-yaml v2). Pure: bytes in, data out.
 *
 * - Size first (`file.too-large`, not parsed), then encoding (parse-text.ts: BOMs, UTF-16,
 *   `file.binary`, `file.encoding`), then `.json` files as one JSON value (parse-json.ts) and
 *   every other file as multi-document YAML: by the fast path (parse-fast.ts) when the file
 *   is in its subset, else by the full reader (parse-yaml.ts). Both give the same values.
 * - A document with any problem is left out; the other documents of the file still load.
 * - `RawDocument.locate` builds its position index on first use.
 */
import { compareProblems, type Problem } from '../model/problem.js';
import { readYamlFast } from './parse-fast.js';
import { parseJsonText } from './parse-json.js';
import { decodeManifestText, LineIndex } from './parse-text.js';
import { fastYamlDocument, parseYamlText } from './parse-yaml.js';
import {
  DEFAULT_PARSE_LIMITS,
  type ParsedFile,
  type ParseLimits,
  type RawDocument,
} from './types.js';

export { MAX_NESTING_DEPTH } from './parse-yaml.js';

/** `6.0 MiB (6291456 bytes)`; small sizes only in bytes. */
function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB (${bytes} bytes)`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB (${bytes} bytes)`;
  return `${bytes} bytes`;
}

export function parseManifestFile(
  file: string,
  bytes: Uint8Array,
  limits?: Partial<ParseLimits>,
): ParsedFile {
  const effective: ParseLimits = {
    maxFileBytes: limits?.maxFileBytes ?? DEFAULT_PARSE_LIMITS.maxFileBytes,
    maxAliasNodes: limits?.maxAliasNodes ?? DEFAULT_PARSE_LIMITS.maxAliasNodes,
  };
  if (bytes.length > effective.maxFileBytes) {
    return {
      file,
      documents: [],
      problems: [
        {
          code: 'file.too-large',
          origin: { file, line: 1, column: 1 },
          message: `file is ${formatSize(bytes.length)}, over the limit of ${formatSize(effective.maxFileBytes)}; raise the limit with --max-file-size`,
        },
      ],
    };
  }
  const decoded = decodeManifestText(file, bytes);
  if (!decoded.ok) return { file, documents: [], problems: decoded.problems };
  const context = { file, text: decoded.text, lines: new LineIndex(decoded.text) };
  const isJson = file.toLowerCase().endsWith('.json');
  if (!isJson) {
    // Most manifests are in the subset parse-fast.ts reads at a fraction of the full cost;
    // anything else (and every problem) is the full reader's.
    const fast = readYamlFast(decoded.text);
    if (fast !== undefined) {
      const documents = fast.map((document) => fastYamlDocument(context, document));
      return { file, documents, problems: [] };
    }
  }
  const parsed = isJson ? parseJsonText(context) : parseYamlText(context, effective);
  const problems: Problem[] = parsed.problems;
  problems.sort(compareProblems);
  const documents: readonly RawDocument[] = parsed.documents;
  return { file, documents, problems };
}
