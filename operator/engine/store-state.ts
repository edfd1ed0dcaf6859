/**
 * EngineState kept in the operator's libsql store, so a restarted operator remembers what it
 * made and where each pod runs. Each app's objects go to the inventory table, the pods to the
 * pod assignments table; a pod still Pending (no node yet) is stored with an empty
 * node, since the column is NOT NULL.
 */
import type { Pod } from '../model/generated/types.js';
import { type LiveObject, refOf } from '../plan/plan.js';
import type { Store } from '../store/store.js';
import type { EngineSnapshot, EngineState, StoredPod } from './state.js';

const UNBOUND_NODE = '';

export interface StoreStateOptions {
  /** ISO time stamped on inventory rows; the store reads no clock. */
  readonly now: () => string;
}

export function createStoreState(store: Store, options: StoreStateOptions): EngineState {
  return {
    load(): EngineSnapshot {
      const apps = new Map<string, LiveObject[]>();
      for (const app of store.inventoryApps()) {
        apps.set(
          app,
          store.inventory(app).map((entry) => ({
            kind: entry.ref.kind,
            object: entry.applied as LiveObject['object'],
          })),
        );
      }
      const pods = new Map<string, StoredPod>();
      for (const assignment of store.assignments()) {
        const pod = assignment.pod as Pod;
        pods.set(
          assignment.podKey,
          assignment.node === UNBOUND_NODE ? { pod } : { pod, node: assignment.node },
        );
      }
      return { apps, pods };
    },
    save(snapshot) {
      // One transaction: a killed operator leaves the whole pass or none of it.
      store.transaction(() => {
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
        const now = options.now();
        for (const app of store.inventoryApps()) {
          if (!snapshot.apps.has(app)) store.replaceInventory(app, [], now);
        }
        for (const [app, objects] of snapshot.apps) {
          store.replaceInventory(
            app,
            objects.map((live) => ({ ref: refOf(live.kind, live.object), applied: live.object })),
            now,
          );
        }
      });
    },
  };
}
