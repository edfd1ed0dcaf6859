/**
 * The operator's embedded store: one SQLite database (libsql) in the data dir, guarded by the
 * data dir's lock. What is kept survives an operator restart: the inventory of what berth made
 * per source, the sync history, the node registry, cluster IP / node port allocations and the
 * desired pod assignments (so a restart does not empty the nodes). Every multi-row write is one
 * transaction; times are ISO strings passed in by the caller (the store reads no clock).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { BerthError, isBerthError } from '../model/errors.js';
import type { ObjectRef, PlannedKind, PlanSummary } from '../plan/types.js';
import { acquireDataDirLock, type DataDirLock } from './lock.js';
import { applyMigrations } from './schema.js';

export const DATABASE_FILE_NAME = 'berth.db';

export interface InventoryEntry {
  readonly ref: ObjectRef;
  /** `Kind/namespace/name`, as the planner's `refKey`. */
  readonly key: string;
  /** The object as last applied, normalized. */
  readonly applied: unknown;
  readonly appliedAt: string;
}

export interface AppliedObject {
  readonly ref: ObjectRef;
  readonly applied: unknown;
}

export type SyncOutcome = 'succeeded' | 'failed' | 'refused';

export interface SyncRecord {
  readonly id: number;
  readonly app: string;
  readonly commit: string;
  readonly startedAt: string;
  /** Absent while the sync runs (or when the operator died during it). */
  readonly finishedAt?: string;
  readonly outcome?: SyncOutcome;
  readonly summary: PlanSummary;
  readonly message: string;
}

export interface SyncFinish {
  readonly finishedAt: string;
  readonly outcome: SyncOutcome;
  readonly summary: PlanSummary;
  readonly message?: string;
}

export interface NodeRecord {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: { readonly cpu: number; readonly memoryBytes: number };
  readonly address?: string;
  readonly registeredAt: string;
  readonly lastHeartbeat?: string;
}

/** Something the operator saw or did, as Kubernetes' events: `kubectl get events` columns. */
export interface EventRecord {
  readonly id: number;
  readonly at: string;
  readonly type: 'Normal' | 'Warning';
  /** One CamelCase word: DriftRepaired, Synced, SyncFailed, Evicted, ... */
  readonly reason: string;
  /** `pod/web-x7k2p`, `app/guestbook`, `node/n1`. */
  readonly object: string;
  readonly app?: string;
  readonly node?: string;
  readonly message: string;
}

/** A named source: its inventory, history and settings go by this name. */
export interface AppRecord {
  readonly name: string;
  /** Where it is read from, e.g. `/srv/guestbook` or `https://host/repo.git`. */
  readonly source: string;
  /** Settings (ref, path, prune, ...) as the app's owner wrote them. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type AllocationKind = 'clusterIP' | 'nodePort';

export interface Allocation {
  readonly kind: AllocationKind;
  readonly value: string;
  /** Who holds it, chosen by the caller: a service's refKey, or `refKey#portName` for ports. */
  readonly owner: string;
  readonly allocatedAt: string;
}

export interface PodAssignment {
  /** `namespace/name` of the pod. */
  readonly podKey: string;
  readonly node: string;
  readonly pod: unknown;
  /** Grows by one each time this pod's assignment is written. */
  readonly version: number;
}

export interface Store {
  readonly dataDir: string;
  readonly databasePath: string;

  /** Everything berth made for this source, by key. */
  inventory(app: string): readonly InventoryEntry[];
  /** Every source that has an inventory. */
  inventoryApps(): readonly string[];
  /** Records applied objects (insert or replace), in one transaction. */
  recordApplied(app: string, objects: readonly AppliedObject[], appliedAt: string): void;
  /** Forgets deleted objects, in one transaction. */
  forgetApplied(app: string, refs: readonly ObjectRef[]): void;
  /** Makes the source's inventory exactly `objects`, in one transaction. */
  replaceInventory(app: string, objects: readonly AppliedObject[], appliedAt: string): void;

  /** Opens a sync history entry; returns its id. */
  startSync(app: string, commit: string, startedAt: string): number;
  finishSync(id: number, finish: SyncFinish): void;
  /** Newest first. */
  syncHistory(app: string, limit?: number): readonly SyncRecord[];
  sync(id: number): SyncRecord | undefined;

  /** Registers a node or updates its labels, capacity and address. */
  upsertNode(node: Omit<NodeRecord, 'lastHeartbeat'>): void;
  /** False when the node is not registered. */
  recordHeartbeat(name: string, at: string): boolean;
  node(name: string): NodeRecord | undefined;
  nodes(): readonly NodeRecord[];
  /** Removes the node; its pod assignments go with it, in one transaction. */
  removeNode(name: string): boolean;

  /**
   * The owner's value of this kind: the one it holds, else the first free one of `candidates`
   * (in order). STORE_ALLOCATION_EXHAUSTED when none is free.
   */
  allocate(
    kind: AllocationKind,
    owner: string,
    candidates: Iterable<string>,
    allocatedAt: string,
  ): string;
  /** Takes a given value (a nodePort written in git). STORE_ALLOCATION_TAKEN if another owner holds it. */
  claim(kind: AllocationKind, owner: string, value: string, allocatedAt: string): void;
  /** Releases what the owner holds of this kind; false when it held nothing. */
  release(kind: AllocationKind, owner: string): boolean;
  allocations(kind?: AllocationKind): readonly Allocation[];

  assignments(node?: string): readonly PodAssignment[];
  assignment(podKey: string): PodAssignment | undefined;
  /** Writes the assignments (each version + 1), in one transaction; returns them as stored. */
  putAssignments(
    assignments: readonly {
      readonly podKey: string;
      readonly node: string;
      readonly pod: unknown;
    }[],
  ): readonly PodAssignment[];
  /** Removes the assignments, in one transaction; returns how many existed. */
  removeAssignments(podKeys: readonly string[]): number;

  /**
   * Runs `work` as one transaction: the store calls inside it commit together or not at all.
   */
  transaction<T>(work: () => T): T;

  /**
   * Records an event; keeps the newest `EVENTS_KEPT` (older ones are dropped in the same
   * transaction). Returns it as stored.
   */
  addEvent(event: Omit<EventRecord, 'id'>): EventRecord;
  /** Newest first; only the app's when given. */
  events(options?: { readonly app?: string; readonly limit?: number }): readonly EventRecord[];

  /** Creates or updates the app (createdAt is kept on update). */
  putApp(app: Omit<AppRecord, 'createdAt' | 'updatedAt'>, at: string): AppRecord;
  app(name: string): AppRecord | undefined;
  apps(): readonly AppRecord[];
  /** Removes the app record (its inventory and history stay until removed). */
  removeApp(name: string): boolean;

  /** Closes the database and releases the lock. Safe to call twice. */
  close(): void;
}

export interface OpenStoreOptions {
  /** Busy wait for SQLite locks, in ms. @default 5000 */
  readonly busyTimeoutMs?: number;
}

const PLANNED_KINDS: readonly PlannedKind[] = ['Pod', 'ReplicationController', 'Service'];

function refKeyOf(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

function wrapStoreFailure(dataDir: string, what: string, error: unknown): BerthError {
  if (isBerthError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BerthError('STORE_FAILED', `store in ${dataDir}: ${what}: ${message}`, {
    cause: error,
  });
}

/**
 * Opens (creating if needed) the store in `dataDir`: takes the lock, opens the database in WAL
 * mode and migrates it. STORE_LOCKED when a live operator holds the dir.
 */
export function openStore(dataDir: string, options: OpenStoreOptions = {}): Store {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    throw wrapStoreFailure(dataDir, 'cannot create the data dir', error);
  }
  const lock = acquireDataDirLock(dataDir);
  const databasePath = join(dataDir, DATABASE_FILE_NAME);
  let db: Database.Database | undefined;
  try {
    db = new Database(databasePath);
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    db.exec('PRAGMA journal_mode = WAL');
    // FULL: a committed transaction survives a power cut too, not only a killed process.
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
    applyMigrations(db);
    return createStore(dataDir, databasePath, db, lock);
  } catch (error) {
    db?.close();
    lock.release();
    throw wrapStoreFailure(dataDir, 'cannot open the database', error);
  }
}

interface InventoryRow {
  ref_key: string;
  kind: string;
  namespace: string;
  name: string;
  applied_json: string;
  applied_at: string;
}

interface SyncRow {
  id: number;
  app: string;
  commit_sha: string;
  started_at: string;
  finished_at: string | null;
  outcome: string | null;
  created: number;
  updated: number;
  replaced: number;
  deleted: number;
  unchanged: number;
  message: string;
}

interface NodeRow {
  name: string;
  labels_json: string;
  cpu: number;
  memory_bytes: number;
  address: string | null;
  registered_at: string;
  last_heartbeat: string | null;
}

interface AllocationRow {
  kind: string;
  value: string;
  owner: string;
  allocated_at: string;
}

interface EventRow {
  id: number;
  at: string;
  type: string;
  reason: string;
  object: string;
  app: string | null;
  node: string | null;
  message: string;
}

/** How many events the store keeps. */
export const EVENTS_KEPT = 10_000;

function toEventRecord(row: EventRow): EventRecord {
  return {
    id: row.id,
    at: row.at,
    type: row.type === 'Warning' ? 'Warning' : 'Normal',
    reason: row.reason,
    object: row.object,
    ...(row.app === null ? {} : { app: row.app }),
    ...(row.node === null ? {} : { node: row.node }),
    message: row.message,
  };
}

interface AppRow {
  name: string;
  source: string;
  settings_json: string;
  created_at: string;
  updated_at: string;
}

function toAppRecord(row: AppRow): AppRecord {
  return {
    name: row.name,
    source: row.source,
    settings: JSON.parse(row.settings_json) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

interface AssignmentRow {
  pod_key: string;
  node: string;
  pod_json: string;
  version: number;
}

function toKind(value: string): PlannedKind {
  const kind = PLANNED_KINDS.find((k) => k === value);
  if (kind === undefined) throw new Error(`unknown kind ${value} in the inventory`);
  return kind;
}

function toInventoryEntry(row: InventoryRow): InventoryEntry {
  return {
    ref: { kind: toKind(row.kind), namespace: row.namespace, name: row.name },
    key: row.ref_key,
    applied: JSON.parse(row.applied_json) as unknown,
    appliedAt: row.applied_at,
  };
}

function toSyncRecord(row: SyncRow): SyncRecord {
  return {
    id: row.id,
    app: row.app,
    commit: row.commit_sha,
    startedAt: row.started_at,
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    ...(row.outcome === null ? {} : { outcome: row.outcome as SyncOutcome }),
    summary: {
      create: row.created,
      update: row.updated,
      replace: row.replaced,
      delete: row.deleted,
      unchanged: row.unchanged,
    },
    message: row.message,
  };
}

function toNodeRecord(row: NodeRow): NodeRecord {
  return {
    name: row.name,
    labels: JSON.parse(row.labels_json) as Record<string, string>,
    capacity: { cpu: row.cpu, memoryBytes: row.memory_bytes },
    ...(row.address === null ? {} : { address: row.address }),
    registeredAt: row.registered_at,
    ...(row.last_heartbeat === null ? {} : { lastHeartbeat: row.last_heartbeat }),
  };
}

function toAllocation(row: AllocationRow): Allocation {
  return {
    kind: row.kind as AllocationKind,
    value: row.value,
    owner: row.owner,
    allocatedAt: row.allocated_at,
  };
}

function toAssignment(row: AssignmentRow): PodAssignment {
  return {
    podKey: row.pod_key,
    node: row.node,
    pod: JSON.parse(row.pod_json) as unknown,
    version: row.version,
  };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function createStore(
  dataDir: string,
  databasePath: string,
  db: Database.Database,
  lock: DataDirLock,
): Store {
  let closed = false;

  // Every call goes through here: a closed store and SQLite failures become BerthErrors.
  function guarded<T>(what: string, work: () => T): T {
    if (closed) throw new BerthError('STORE_FAILED', `store in ${dataDir} is closed (${what})`);
    try {
      return work();
    } catch (error) {
      throw wrapStoreFailure(dataDir, what, error);
    }
  }

  function inTransaction<T>(work: () => T): T {
    // Inside `transaction(...)` the work joins the outer transaction: libsql has no savepoints,
    // and a failure throws through the outer one, which rolls back as a whole.
    if (db.inTransaction) return work();
    // IMMEDIATE: take the write lock up front, so a read-then-write cannot be overtaken.
    return db.transaction(work).immediate();
  }

  const statements = {
    inventory: db.prepare(
      'SELECT ref_key, kind, namespace, name, applied_json, applied_at FROM inventory WHERE app = ? ORDER BY ref_key',
    ),
    inventoryApps: db.prepare('SELECT DISTINCT app FROM inventory ORDER BY app'),
    upsertInventory: db.prepare(
      `INSERT INTO inventory (app, ref_key, kind, namespace, name, applied_json, applied_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (app, ref_key) DO UPDATE SET applied_json = excluded.applied_json, applied_at = excluded.applied_at`,
    ),
    deleteInventoryEntry: db.prepare('DELETE FROM inventory WHERE app = ? AND ref_key = ?'),
    deleteInventory: db.prepare('DELETE FROM inventory WHERE app = ?'),
    startSync: db.prepare(
      'INSERT INTO sync_history (app, commit_sha, started_at) VALUES (?, ?, ?)',
    ),
    finishSync: db.prepare(
      `UPDATE sync_history SET finished_at = ?, outcome = ?, created = ?, updated = ?, replaced = ?,
       deleted = ?, unchanged = ?, message = ? WHERE id = ?`,
    ),
    syncHistory: db.prepare('SELECT * FROM sync_history WHERE app = ? ORDER BY id DESC LIMIT ?'),
    sync: db.prepare('SELECT * FROM sync_history WHERE id = ?'),
    upsertNode: db.prepare(
      `INSERT INTO nodes (name, labels_json, cpu, memory_bytes, address, registered_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET labels_json = excluded.labels_json, cpu = excluded.cpu,
       memory_bytes = excluded.memory_bytes, address = excluded.address`,
    ),
    heartbeat: db.prepare('UPDATE nodes SET last_heartbeat = ? WHERE name = ?'),
    node: db.prepare('SELECT * FROM nodes WHERE name = ?'),
    nodes: db.prepare('SELECT * FROM nodes ORDER BY name'),
    removeNode: db.prepare('DELETE FROM nodes WHERE name = ?'),
    removeNodeAssignments: db.prepare('DELETE FROM pod_assignments WHERE node = ?'),
    allocationOfOwner: db.prepare('SELECT * FROM allocations WHERE kind = ? AND owner = ?'),
    allocationOfValue: db.prepare('SELECT * FROM allocations WHERE kind = ? AND value = ?'),
    insertAllocation: db.prepare(
      'INSERT INTO allocations (kind, value, owner, allocated_at) VALUES (?, ?, ?, ?)',
    ),
    releaseAllocation: db.prepare('DELETE FROM allocations WHERE kind = ? AND owner = ?'),
    allocations: db.prepare('SELECT * FROM allocations ORDER BY kind, value'),
    allocationsOfKind: db.prepare('SELECT * FROM allocations WHERE kind = ? ORDER BY value'),
    allocatedValues: db.prepare('SELECT value FROM allocations WHERE kind = ?'),
    assignments: db.prepare('SELECT * FROM pod_assignments ORDER BY pod_key'),
    assignmentsOfNode: db.prepare('SELECT * FROM pod_assignments WHERE node = ? ORDER BY pod_key'),
    assignment: db.prepare('SELECT * FROM pod_assignments WHERE pod_key = ?'),
    upsertAssignment: db.prepare(
      `INSERT INTO pod_assignments (pod_key, node, pod_json, version) VALUES (?, ?, ?, 1)
       ON CONFLICT (pod_key) DO UPDATE SET node = excluded.node, pod_json = excluded.pod_json,
       version = pod_assignments.version + 1`,
    ),
    removeAssignment: db.prepare('DELETE FROM pod_assignments WHERE pod_key = ?'),
    addEvent: db.prepare(
      'INSERT INTO events (at, type, reason, object, app, node, message) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    event: db.prepare('SELECT * FROM events WHERE id = ?'),
    trimEvents: db.prepare('DELETE FROM events WHERE id <= ?'),
    events: db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?'),
    eventsOfApp: db.prepare('SELECT * FROM events WHERE app = ? ORDER BY id DESC LIMIT ?'),
    putApp: db.prepare(
      `INSERT INTO apps (name, source, settings_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET source = excluded.source,
       settings_json = excluded.settings_json, updated_at = excluded.updated_at`,
    ),
    app: db.prepare('SELECT * FROM apps WHERE name = ?'),
    apps: db.prepare('SELECT * FROM apps ORDER BY name'),
    removeApp: db.prepare('DELETE FROM apps WHERE name = ?'),
  };

  function writeApplied(app: string, objects: readonly AppliedObject[], appliedAt: string): void {
    for (const object of objects) {
      const { ref } = object;
      statements.upsertInventory.run(
        app,
        refKeyOf(ref),
        ref.kind,
        ref.namespace,
        ref.name,
        JSON.stringify(object.applied),
        appliedAt,
      );
    }
  }

  function readAllocation(kind: AllocationKind, owner: string): Allocation | undefined {
    const row = statements.allocationOfOwner.get(kind, owner) as AllocationRow | undefined;
    return row === undefined ? undefined : toAllocation(row);
  }

  return {
    dataDir,
    databasePath,

    addEvent: (event) =>
      guarded('record an event', () =>
        inTransaction(() => {
          const id = Number(
            statements.addEvent.run(
              event.at,
              event.type,
              event.reason,
              event.object,
              event.app ?? null,
              event.node ?? null,
              event.message,
            ).lastInsertRowid,
          );
          if (id > EVENTS_KEPT) statements.trimEvents.run(id - EVENTS_KEPT);
          return toEventRecord(statements.event.get(id) as EventRow);
        }),
      ),
    events: (options = {}) =>
      guarded('read the events', () => {
        const limit = Math.max(0, Math.trunc(options.limit ?? 100));
        const rows =
          options.app === undefined
            ? statements.events.all(limit)
            : statements.eventsOfApp.all(options.app, limit);
        return (rows as EventRow[]).map(toEventRecord);
      }),
    putApp: (app, at) =>
      guarded('record the app', () =>
        inTransaction(() => {
          statements.putApp.run(app.name, app.source, JSON.stringify(app.settings), at, at);
          return toAppRecord(statements.app.get(app.name) as AppRow);
        }),
      ),
    app: (name) =>
      guarded('read the app', () => {
        const row = statements.app.get(name) as AppRow | undefined;
        return row === undefined ? undefined : toAppRecord(row);
      }),
    apps: () =>
      guarded('list the apps', () => (statements.apps.all() as AppRow[]).map(toAppRecord)),
    removeApp: (name) =>
      guarded('remove the app', () => statements.removeApp.run(name).changes > 0),

    transaction: (work) => guarded('run a transaction', () => inTransaction(work)),

    inventory: (app) =>
      guarded('read the inventory', () =>
        (statements.inventory.all(app) as InventoryRow[]).map(toInventoryEntry),
      ),
    inventoryApps: () =>
      guarded('list the inventories', () =>
        (statements.inventoryApps.all() as { app: string }[]).map((row) => row.app),
      ),
    recordApplied: (app, objects, appliedAt) =>
      guarded('record applied objects', () =>
        inTransaction(() => writeApplied(app, objects, appliedAt)),
      ),
    forgetApplied: (app, refs) =>
      guarded('forget deleted objects', () =>
        inTransaction(() => {
          for (const ref of refs) statements.deleteInventoryEntry.run(app, refKeyOf(ref));
        }),
      ),
    replaceInventory: (app, objects, appliedAt) =>
      guarded('replace the inventory', () =>
        inTransaction(() => {
          statements.deleteInventory.run(app);
          writeApplied(app, objects, appliedAt);
        }),
      ),

    startSync: (app, commit, startedAt) =>
      guarded('start a sync entry', () =>
        Number(statements.startSync.run(app, commit, startedAt).lastInsertRowid),
      ),
    finishSync: (id, finish) =>
      guarded('finish a sync entry', () => {
        const { summary } = finish;
        const result = statements.finishSync.run(
          finish.finishedAt,
          finish.outcome,
          summary.create,
          summary.update,
          summary.replace,
          summary.delete,
          summary.unchanged,
          finish.message ?? '',
          id,
        );
        if (result.changes === 0) throw new Error(`no sync entry ${id}`);
      }),
    syncHistory: (app, limit = 50) =>
      guarded('read the sync history', () =>
        (statements.syncHistory.all(app, limit) as SyncRow[]).map(toSyncRecord),
      ),
    sync: (id) =>
      guarded('read a sync entry', () => {
        const row = statements.sync.get(id) as SyncRow | undefined;
        return row === undefined ? undefined : toSyncRecord(row);
      }),

    upsertNode: (node) =>
      guarded('register a node', () => {
        statements.upsertNode.run(
          node.name,
          JSON.stringify(node.labels),
          node.capacity.cpu,
          node.capacity.memoryBytes,
          node.address ?? null,
          node.registeredAt,
        );
      }),
    recordHeartbeat: (name, at) =>
      guarded('record a heartbeat', () => statements.heartbeat.run(at, name).changes > 0),
    node: (name) =>
      guarded('read a node', () => {
        const row = statements.node.get(name) as NodeRow | undefined;
        return row === undefined ? undefined : toNodeRecord(row);
      }),
    nodes: () =>
      guarded('list the nodes', () => (statements.nodes.all() as NodeRow[]).map(toNodeRecord)),
    removeNode: (name) =>
      guarded('remove a node', () =>
        inTransaction(() => {
          statements.removeNodeAssignments.run(name);
          return statements.removeNode.run(name).changes > 0;
        }),
      ),

    allocate: (kind, owner, candidates, allocatedAt) =>
      guarded(`allocate a ${kind}`, () =>
        inTransaction(() => {
          const held = readAllocation(kind, owner);
          if (held !== undefined) return held.value;
          const taken = new Set(
            (statements.allocatedValues.all(kind) as { value: string }[]).map((row) => row.value),
          );
          for (const candidate of candidates) {
            if (taken.has(candidate)) continue;
            // The primary key (kind, value) is the real guard; the set only skips known ones.
            statements.insertAllocation.run(kind, candidate, owner, allocatedAt);
            return candidate;
          }
          throw new BerthError('STORE_ALLOCATION_EXHAUSTED', `no free ${kind} left for ${owner}`, {
            hint: `release ${kind}s of deleted services, or widen the range`,
          });
        }),
      ),
    claim: (kind, owner, value, allocatedAt) =>
      guarded(`claim ${kind} ${value}`, () =>
        inTransaction(() => {
          const holder = statements.allocationOfValue.get(kind, value) as AllocationRow | undefined;
          if (holder !== undefined && holder.owner === owner) return;
          if (holder !== undefined) {
            throw new BerthError(
              'STORE_ALLOCATION_TAKEN',
              `${kind} ${value} is already allocated to ${holder.owner}`,
              { hint: `choose another ${kind} for ${owner}` },
            );
          }
          // An owner holds one value per kind: claiming a new one gives up the old.
          statements.releaseAllocation.run(kind, owner);
          try {
            statements.insertAllocation.run(kind, value, owner, allocatedAt);
          } catch (error) {
            if (!isUniqueViolation(error)) throw error;
            throw new BerthError('STORE_ALLOCATION_TAKEN', `${kind} ${value} is already allocated`);
          }
        }),
      ),
    release: (kind, owner) =>
      guarded(`release a ${kind}`, () => statements.releaseAllocation.run(kind, owner).changes > 0),
    allocations: (kind) =>
      guarded('list allocations', () =>
        (
          (kind === undefined
            ? statements.allocations.all()
            : statements.allocationsOfKind.all(kind)) as AllocationRow[]
        ).map(toAllocation),
      ),

    assignments: (node) =>
      guarded('read pod assignments', () =>
        (
          (node === undefined
            ? statements.assignments.all()
            : statements.assignmentsOfNode.all(node)) as AssignmentRow[]
        ).map(toAssignment),
      ),
    assignment: (podKey) =>
      guarded('read a pod assignment', () => {
        const row = statements.assignment.get(podKey) as AssignmentRow | undefined;
        return row === undefined ? undefined : toAssignment(row);
      }),
    putAssignments: (assignments) =>
      guarded('write pod assignments', () =>
        inTransaction(() =>
          assignments.map((assignment) => {
            statements.upsertAssignment.run(
              assignment.podKey,
              assignment.node,
              JSON.stringify(assignment.pod),
            );
            return toAssignment(statements.assignment.get(assignment.podKey) as AssignmentRow);
          }),
        ),
      ),
    removeAssignments: (podKeys) =>
      guarded('remove pod assignments', () =>
        inTransaction(() =>
          podKeys.reduce(
            (removed, podKey) => removed + statements.removeAssignment.run(podKey).changes,
            0,
          ),
        ),
      ),

    close() {
      if (closed) return;
      closed = true;
      try {
        db.close();
      } finally {
        lock.release();
      }
    },
  };
}
