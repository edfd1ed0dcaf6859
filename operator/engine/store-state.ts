/**
 * EngineState kept in the operator's libsql store, so a restarted operator remembers what it
 * made and where each pod runs. Each app's objects go to the inventory table, the pods to the
 * pod assignments table; a pod still Pending (no node yet) is stored with an empty
 * node, since the column is NOT NULL.
 *
 * The store is read once. This state is the only writer of the inventory and the pod
 * assignments while its process holds the data dir's lock, so it keeps the last snapshot it
 * read or saved and hands that out again: a pass reads nothing back from the database. The
 * kept snapshot has what a fresh read would return (apps and pods in key order, apps without
 * objects left out), and `save` writes only the rows that differ from it. Pods and objects are
 * compared by reference first and by their JSON only when the references differ, so a pass
 * that hands back the objects it loaded costs no serialization.
 *
 * `save` must not run inside an outer `store.transaction` that may roll back after it
 * returns: the kept snapshot would then be ahead of the database.
 */
import type { Pod } from '../model/generated/types.js';
import { type LiveObject, refOf } from '../plan/plan.js';
import type { HeldAllocation } from '../services/views.js';
import type { AppliedObject, Store } from '../store/store.js';
import { objectKey } from './object-key.js';
import { sameJson } from './same-json.js';
import type { EngineSnapshot, EngineState, StoredPod } from './state.js';

const UNBOUND_NODE = '';

export interface StoreStateOptions {
  /** ISO time stamped on inventory rows; the store reads no clock. */
  readonly now: () => string;
}

/** The kept snapshot, in the store's order: apps by name, pods by key, objects by refKey. */
interface Kept {
  readonly apps: ReadonlyMap<string, readonly LiveObject[]>;
  readonly pods: ReadonlyMap<string, StoredPod>;
  readonly allocations: readonly HeldAllocation[];
}

const allocationKey = (a: HeldAllocation): string => `${a.kind} ${a.owner} ${a.value}`;

/** SQLite's default (BINARY) order on these ASCII keys is JavaScript's code-unit order. */
function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function readStore(store: Store): Kept {
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
  const allocations = store.allocations().map(({ kind, owner, value }) => ({ kind, owner, value }));
  return { apps, pods, allocations };
}

/** An app's objects as the inventory table keeps them: one per refKey (the last), by refKey. */
function inventoryRows(objects: readonly LiveObject[]): Map<string, LiveObject> {
  const rows = new Map<string, LiveObject>();
  for (const live of objects) rows.set(objectKey(live.kind, live.object), live);
  return new Map([...rows].sort(([a], [b]) => byKey(a, b)));
}

function sameStoredPod(a: StoredPod | undefined, b: StoredPod): boolean {
  if (a === undefined) return false;
  if (a === b) return true;
  return (a.node ?? UNBOUND_NODE) === (b.node ?? UNBOUND_NODE) && sameJson(a.pod, b.pod);
}

function sameObject(a: LiveObject | undefined, b: LiveObject): boolean {
  if (a === undefined) return false;
  return a.kind === b.kind && (a.object === b.object || sameJson(a.object, b.object));
}

/**
 * True when `objects` are the kept rows `kept` in any order: the same objects (by reference)
 * of the same kinds, each once. Kept rows have one object per refKey, so then nothing is
 * written and the rows stay as they are.
 */
function sameObjects(objects: readonly LiveObject[], kept: readonly LiveObject[]): boolean {
  if (objects === kept) return true;
  if (objects.length !== kept.length) return false;
  const kinds = new Map<LiveObject['object'], LiveObject['kind']>();
  for (const live of kept) kinds.set(live.object, live.kind);
  const seen = new Set<LiveObject['object']>();
  for (const live of objects) {
    if (kinds.get(live.object) !== live.kind || seen.has(live.object)) return false;
    seen.add(live.object);
  }
  return true;
}

export function createStoreState(store: Store, options: StoreStateOptions): EngineState {
  let kept: Kept | undefined;

  function current(): Kept {
    kept ??= readStore(store);
    return kept;
  }

  return {
    load(): EngineSnapshot {
      const { apps, pods, allocations } = current();
      // Fresh maps over the same objects: a caller may not change the kept snapshot.
      return { apps: new Map(apps), pods: new Map(pods), allocations: [...allocations] };
    },
    save(snapshot) {
      const before = current();
      const changed: { podKey: string; node: string; pod: unknown }[] = [];
      let added = false;
      for (const [podKey, stored] of snapshot.pods) {
        const previous = before.pods.get(podKey);
        if (previous === undefined) added = true;
        if (sameStoredPod(previous, stored)) continue;
        changed.push({ podKey, node: stored.node ?? UNBOUND_NODE, pod: stored.pod });
      }
      const gone: string[] = [];
      for (const key of before.pods.keys()) if (!snapshot.pods.has(key)) gone.push(key);

      const now = options.now();
      const inventoryWrites: {
        app: string;
        put: AppliedObject[];
        forget: AppliedObject['ref'][];
      }[] = [];
      const apps = new Map<string, readonly LiveObject[]>();
      for (const [app, objects] of snapshot.apps) {
        const previous = before.apps.get(app) ?? [];
        if (sameObjects(objects, previous)) {
          // The kept rows already are these objects, one per refKey, in refKey order.
          if (previous.length > 0) apps.set(app, previous);
          continue;
        }
        const rows = inventoryRows(objects);
        if (rows.size > 0) apps.set(app, [...rows.values()]);
        const previousRows = inventoryRows(previous);
        const put: AppliedObject[] = [];
        for (const [key, live] of rows) {
          if (sameObject(previousRows.get(key), live)) continue;
          put.push({ ref: refOf(live.kind, live.object), applied: live.object });
        }
        const forget = [...previousRows]
          .filter(([key]) => !rows.has(key))
          .map(([, live]) => refOf(live.kind, live.object));
        if (put.length > 0 || forget.length > 0) inventoryWrites.push({ app, put, forget });
      }
      for (const [app, previous] of before.apps) {
        if (snapshot.apps.has(app)) continue;
        const forget = [...inventoryRows(previous).values()].map((live) =>
          refOf(live.kind, live.object),
        );
        inventoryWrites.push({ app, put: [], forget });
      }

      // Allocations given up first: a value may move to another owner in the same pass.
      const nextAllocations = snapshot.allocations ?? before.allocations;
      const nextKeys = new Set(nextAllocations.map(allocationKey));
      const beforeKeys = new Set(before.allocations.map(allocationKey));
      const releases = before.allocations.filter((a) => !nextKeys.has(allocationKey(a)));
      const claims = nextAllocations.filter((a) => !beforeKeys.has(allocationKey(a)));

      const writes =
        releases.length + claims.length + changed.length + gone.length + inventoryWrites.length;
      try {
        // One transaction: a killed operator leaves the whole pass or none of it. A pass that
        // changed nothing opens none (an idle operator passes every few seconds).
        if (writes > 0) {
          store.transaction(() => {
            for (const { kind, owner } of releases) store.release(kind, owner);
            for (const { kind, owner, value } of claims) store.claim(kind, owner, value, now);
            if (changed.length > 0) store.putAssignments(changed);
            if (gone.length > 0) store.removeAssignments(gone);
            for (const { app, put, forget } of inventoryWrites) {
              if (forget.length > 0) store.forgetApplied(app, forget);
              if (put.length > 0) store.recordApplied(app, put, now);
            }
          });
        }
      } catch (error) {
        // Whatever the database holds now, the next load reads it again.
        kept = undefined;
        throw error;
      }

      // Keep the store's order: pods by key (only new keys can disturb it), apps by name.
      let pods: Map<string, StoredPod>;
      if (added) {
        pods = new Map([...snapshot.pods].sort(([a], [b]) => byKey(a, b)));
      } else {
        pods = new Map(before.pods);
        for (const key of gone) pods.delete(key);
        for (const [key, stored] of snapshot.pods) pods.set(key, stored);
      }
      kept = {
        apps: new Map([...apps].sort(([a], [b]) => byKey(a, b))),
        pods,
        // The store's order: by kind, then value.
        allocations: [...nextAllocations].sort(
          (a, b) => byKey(a.kind, b.kind) || byKey(a.value, b.value),
        ),
      };
    },
  };
}
