import type { FieldPath, Origin, Problem } from '../model/problem.js';

/** One YAML/JSON document of a file, as Kubernetes would read it, with positions kept. */
export interface RawDocument {
  /** Origin of the document's root node. */
  readonly origin: Origin;
  /** Plain JSON data (objects, arrays, strings, numbers, booleans, null). */
  readonly value: unknown;
  /** Origin of the node at `path` below the root, or of its nearest existing ancestor. */
  locate(path: FieldPath): Origin;
}

export interface ParsedFile {
  readonly file: string;
  /** Non-empty documents in file order; empty documents are dropped. */
  readonly documents: readonly RawDocument[];
  readonly problems: readonly Problem[];
}

export interface ParseLimits {
  /** Files larger than this are refused whole. @default 5 MiB */
  readonly maxFileBytes: number;
  /** Bound on alias expansion (billion-laughs guard), counted in nodes. @default 10_000 */
  readonly maxAliasNodes: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = {
  maxFileBytes: 5 * 1024 * 1024,
  maxAliasNodes: 10_000,
};
