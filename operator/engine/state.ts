/**
 * What the engine remembers between passes: per app (a named source) the objects berth made
 * for it as last applied (its inventory), and every pod it made with the node it is bound to.
 * An interface so a durable store (libsql) can replace the in-memory one.
 */
import type { Pod } from '../model/generated/types.js';
import type { LiveObject } from '../plan/plan.js';
import type { HeldAllocation } from '../services/views.js';
import { objectKey } from './object-key.js';

/** A pod berth made (bare or an RC's replica) and the node it is bound to, if any yet. */
export interface StoredPod {
  readonly pod: Pod;
  /** Absent while Pending (no node fits). A bound pod is never moved to another node. */
  readonly node?: string;
}

export interface EngineSnapshot {
  /**
   * Per app, its Pods, RCs and Services as last applied from git (what the planner compares
   * against). The refKeys of an app's objects are its inventory: prune deletes only from it.
   */
  readonly apps: ReadonlyMap<string, readonly LiveObject[]>;
  /** Keyed by `namespace/name`. */
  readonly pods: ReadonlyMap<string, StoredPod>;
  /** Cluster IPs and node ports the services hold. @default none */
  readonly allocations?: readonly HeldAllocation[];
}

export interface EngineState {
  load(): EngineSnapshot;
  /** Replaces the whole snapshot (a pass's outcome), so a reader never sees half a pass. */
  save(snapshot: EngineSnapshot): void;
}

export function emptySnapshot(): EngineSnapshot {
  return { apps: new Map(), pods: new Map() };
}

/** The refKeys of what berth made for `app`. */
export function inventoryOf(snapshot: EngineSnapshot, app: string): Set<string> {
  return new Set((snapshot.apps.get(app) ?? []).map((o) => objectKey(o.kind, o.object)));
}

/** Every app's objects, in app order. */
export function allObjects(snapshot: EngineSnapshot): LiveObject[] {
  return [...snapshot.apps.values()].flat();
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
    apps: new Map([...snapshot.apps].map(([app, objects]) => [app, [...objects]])),
    pods: new Map(snapshot.pods),
    allocations: [...(snapshot.allocations ?? [])],
  };
}
