/**
 * The position index of one document: the shape of its JSON value, with the text offset of
 * every node and of every mapping key. Built only when `locate` is first called (most
 * documents are valid and never need it); shared subtrees stand for YAML aliases.
 */
import type { FieldPath } from '../model/problem.js';

export type PosNode = PosMap | PosSeq | PosScalar;

export interface PosEntry {
  /** Offset of the key's text. */
  readonly key: number;
  readonly node: PosNode;
}

export interface PosMap {
  readonly kind: 'map';
  readonly offset: number;
  readonly entries: Map<string, PosEntry>;
}

export interface PosSeq {
  readonly kind: 'seq';
  readonly offset: number;
  readonly items: PosNode[];
}

export interface PosScalar {
  readonly kind: 'scalar';
  readonly offset: number;
}

/**
 * Offset for `path`: of the key when the last element names a mapping entry (messages about
 * a field point at its name), of the item for a sequence index, and of the nearest existing
 * ancestor (by the same rule) when the path leaves the document.
 */
export function locateOffset(root: PosNode, path: FieldPath): number {
  let node: PosNode = root;
  let offset = root.offset;
  for (const part of path) {
    if (node.kind === 'map') {
      const entry = node.entries.get(String(part));
      if (entry === undefined) return offset;
      offset = entry.key;
      node = entry.node;
    } else if (node.kind === 'seq' && typeof part === 'number') {
      const item = node.items[part];
      if (item === undefined) return offset;
      offset = item.offset;
      node = item;
    } else {
      return offset;
    }
  }
  return offset;
}
