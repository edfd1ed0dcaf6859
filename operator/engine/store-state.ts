/**
 * EngineState kept in the operator's libsql store, so a restarted operator remembers what it
 * made and where each pod runs. The source objects go to the inventory table (one app), the
 * pods to the pod assignments table; a pod still Pending (no node yet) is stored with an empty
 * node, since the column is NOT NULL.
 */
import type { Pod } from '../model/generated/types.js';
import { type LiveObject, refKey, refOf } from '../plan/plan.js';
import type { Store } from '../store/store.js';
import type { EngineSnapshot, EngineState, StoredPod } from './state.js';

/** The inventory app the embedded operator's engine writes under. */
export const ENGINE_APP = 'engine';

const UNBOUND_NODE = '';

export interface StoreStateOptions {
  /** Inventory app name. @default ENGINE_APP */
  readonly app?: string;
  /** ISO time stamped on inventory rows; the store reads no clock. */
  readonly now: () => string;
}

export function createStoreState(store: Store, options: StoreStateOptions): EngineState {
  const app = options.app ?? ENGINE_APP;
  return {
    load(): EngineSnapshot {
      const objects: LiveObject[] = store
        .inventory(app)
        .map((entry) => ({ kind: entry.ref.kind, object: entry.applied as LiveObject['object'] }));
      const pods = new Map<string, StoredPod>();
      for (const assignment of store.assignments()) {
        const pod = assignment.pod as Pod;
        pods.set(
          assignment.podKey,
          assignment.node === UNBOUND_NODE ? { pod } : { pod, node: assignment.node },
        );
      }
      const inventory = new Set(objects.map((live) => refKey(refOf(live.kind, live.object))));
      return { inventory, objects, pods };
    },
    save(snapshot) {
      // Pods first: an object in the inventory never lacks the pods a pass made for it.
      const previous = new Set(store.assignments().map((assignment) => assignment.podKey));
      const changed = [...snapshot.pods]
        .filter(([key, stored]) => {
          const current = store.assignment(key);
          return (
            current === undefined ||
            current.node !== (stored.node ?? UNBOUND_NODE) ||
            JSON.stringify(current.pod) !== JSON.stringify(stored.pod)
          );
        })
        .map(([podKey, stored]) => ({
          podKey,
          node: stored.node ?? UNBOUND_NODE,
          pod: stored.pod,
        }));
      if (changed.length > 0) store.putAssignments(changed);
      const gone = [...previous].filter((key) => !snapshot.pods.has(key));
      if (gone.length > 0) store.removeAssignments(gone);
      store.replaceInventory(
        app,
        snapshot.objects.map((live) => ({
          ref: refOf(live.kind, live.object),
          applied: live.object,
        })),
        options.now(),
      );
    },
  };
}
