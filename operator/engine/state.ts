/**
 * What the engine remembers between passes: the inventory (refKeys of the objects berth made
 * for the source), the source-level objects as last applied, and every pod it made with the
 * node it is bound to. An interface so a durable store (libsql) can replace the in-memory one.
 */
import type { Pod } from '../model/generated/types.js';
import type { LiveObject } from '../plan/plan.js';

/** A pod berth made (bare or an RC's replica) and the node it is bound to, if any yet. */
export interface StoredPod {
  readonly pod: Pod;
  /** Absent while Pending (no node fits). A bound pod is never moved to another node. */
  readonly node?: string;
}

export interface EngineSnapshot {
  readonly inventory: ReadonlySet<string>;
  /** Pods, RCs and Services as last applied from git (what the planner compares against). */
  readonly objects: readonly LiveObject[];
  /** Keyed by `namespace/name`. */
  readonly pods: ReadonlyMap<string, StoredPod>;
}

export interface EngineState {
  load(): EngineSnapshot;
  /** Replaces the whole snapshot (a pass's outcome), so a reader never sees half a pass. */
  save(snapshot: EngineSnapshot): void;
}

export function emptySnapshot(): EngineSnapshot {
  return { inventory: new Set(), objects: [], pods: new Map() };
}

/** Kept in memory only: lost with the process. Copies in and out, so callers share nothing. */
export function createMemoryState(initial: EngineSnapshot = emptySnapshot()): EngineState {
  let current = copy(initial);
  return {
    load: () => copy(current),
    save(snapshot) {
      current = copy(snapshot);
    },
  };
}

function copy(snapshot: EngineSnapshot): EngineSnapshot {
  return {
    inventory: new Set(snapshot.inventory),
    objects: [...snapshot.objects],
    pods: new Map(snapshot.pods),
  };
}
