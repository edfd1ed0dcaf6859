/**
 * The store's schema as an ordered list of migrations. The database's `user_version` is the
 * number of migrations applied; each one runs in its own transaction together with the bump of
 * `user_version`, so a crash leaves the schema at a whole version. Append new migrations only:
 * an applied one is never edited.
 */
import type { Database } from 'libsql';
import { BerthError } from '../model/errors.js';

export interface Migration {
  /** What it changes, for messages. */
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'inventory, sync history, nodes, allocations, pod assignments',
    sql: `
      CREATE TABLE inventory (
        app TEXT NOT NULL,
        ref_key TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('Pod', 'ReplicationController', 'Service')),
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        applied_json TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        PRIMARY KEY (app, ref_key)
      ) STRICT;

      CREATE TABLE sync_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT CHECK (outcome IN ('succeeded', 'failed', 'refused')),
        created INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        replaced INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX sync_history_by_app ON sync_history (app, id);

      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        labels_json TEXT NOT NULL,
        cpu REAL NOT NULL,
        memory_bytes INTEGER NOT NULL,
        address TEXT,
        registered_at TEXT NOT NULL,
        last_heartbeat TEXT
      ) STRICT;

      CREATE TABLE allocations (
        kind TEXT NOT NULL CHECK (kind IN ('clusterIP', 'nodePort')),
        value TEXT NOT NULL,
        owner TEXT NOT NULL,
        allocated_at TEXT NOT NULL,
        PRIMARY KEY (kind, value),
        UNIQUE (kind, owner)
      ) STRICT;

      CREATE TABLE pod_assignments (
        pod_key TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        pod_json TEXT NOT NULL,
        version INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX pod_assignments_by_node ON pod_assignments (node);
    `,
  },
  {
    description: 'apps: each named source and where it is read from',
    sql: `
      CREATE TABLE apps (
        name TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        settings_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    description: 'events: what the operator saw and did (drift put back, syncs, evictions)',
    sql: `
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('Normal', 'Warning')),
        reason TEXT NOT NULL,
        object TEXT NOT NULL,
        app TEXT,
        node TEXT,
        message TEXT NOT NULL
      ) STRICT;
      CREATE INDEX events_by_app ON events (app, id);
    `,
  },
];

export function schemaVersion(db: Database): number {
  const row = db.prepare('SELECT user_version AS version FROM pragma_user_version').get() as {
    version: number;
  };
  return row.version;
}

/**
 * Brings the database up to `migrations.length`. Refuses a database from a newer berth rather
 * than writing into a schema it does not know.
 */
export function applyMigrations(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): { readonly from: number; readonly to: number } {
  const from = schemaVersion(db);
  if (from > migrations.length) {
    throw new BerthError(
      'STORE_SCHEMA_TOO_NEW',
      `the store's schema is version ${from}; this berth knows versions up to ${migrations.length}`,
      { hint: 'run the berth version that wrote this data dir, or a newer one' },
    );
  }
  for (let version = from; version < migrations.length; version++) {
    const migration = migrations[version]!;
    db.transaction(() => {
      db.exec(migration.sql);
      // PRAGMA takes no bound parameters; `version + 1` is an integer of ours.
      db.exec(`PRAGMA user_version = ${version + 1}`);
    }).immediate();
  }
  return { from, to: migrations.length };
}
