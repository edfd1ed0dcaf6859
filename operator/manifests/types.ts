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

import type { Pod, ReplicationController, Service } from '../model/generated/types.js';

export const SUPPORTED_KINDS = ['Pod', 'ReplicationController', 'Service'] as const;
export type SupportedKind = (typeof SUPPORTED_KINDS)[number];

interface ManifestObjectBase {
  /** Origin of the object's root node (for a `kind: List` item, the item's node). */
  readonly origin: Origin;
  /** Origin of a field below this object's root; paths are relative to the object. */
  locate(path: FieldPath): Origin;
}

/**
 * A schema-valid object of a supported kind. `object` is typed by the generated types; it is
 * only produced for documents with no schema problems.
 */
export type ManifestObject =
  | (ManifestObjectBase & { readonly kind: 'Pod'; readonly object: Pod })
  | (ManifestObjectBase & {
      readonly kind: 'ReplicationController';
      readonly object: ReplicationController;
    })
  | (ManifestObjectBase & { readonly kind: 'Service'; readonly object: Service });

const KUBECTL_KIND_NAMES: Record<SupportedKind, string> = {
  Pod: 'pod',
  ReplicationController: 'replicationcontroller',
  Service: 'service',
};

/** `pod/frontend`, as kubectl names objects in its messages. */
export function objectRef(kind: SupportedKind, name: string | undefined): string {
  return `${KUBECTL_KIND_NAMES[kind]}/${name ?? '<unnamed>'}`;
}
