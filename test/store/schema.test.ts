import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BerthError } from '../../operator/model/errors.js';
import {
  applyMigrations,
  DATABASE_FILE_NAME,
  LOCK_FILE_NAME,
  MIGRATIONS,
  type Migration,
  openStore,
  schemaVersion,
} from '../../operator/store/index.js';

let dataDir: string;
let db: Database.Database;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-schema-'));
  db = new Database(join(dataDir, 'test.db'));
});

afterEach(() => {
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function tables(): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[]
  )
    .map((row) => row.name)
    .filter((name) => !name.startsWith('sqlite_'));
}

const first: Migration = { description: 'a', sql: 'CREATE TABLE a (x INTEGER) STRICT;' };
const second: Migration = {
  description: 'b',
  sql: 'CREATE TABLE b (y TEXT) STRICT; INSERT INTO b (y) VALUES (1);',
};

describe('migrations', () => {
  it('brings a new database to the latest version with every table', () => {
    expect(applyMigrations(db)).toEqual({ from: 0, to: MIGRATIONS.length });
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(tables()).toEqual([
      'allocations',
      'apps',
      'events',
      'inventory',
      'nodes',
      'pod_assignments',
      'sync_history',
    ]);
    // Applying again is a no-op.
    expect(applyMigrations(db)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length });
  });

  it('applies only the migrations a database lacks', () => {
    applyMigrations(db, [first]);
    expect(schemaVersion(db)).toBe(1);
    expect(applyMigrations(db, [first, second])).toEqual({ from: 1, to: 2 });
    expect(tables()).toEqual(['a', 'b']);
    expect(schemaVersion(db)).toBe(2);
  });

  it('leaves a failed migration wholly out, at the version before it', () => {
    applyMigrations(db, [first]);
    const broken: Migration = {
      description: 'broken',
      sql: 'CREATE TABLE c (z INTEGER); INSERT INTO missing VALUES (1);',
    };
    expect(() => applyMigrations(db, [first, broken])).toThrow(/missing/);
    expect(schemaVersion(db)).toBe(1);
    expect(tables()).toEqual(['a']);
  });

  it('refuses a database written by a newer berth', () => {
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    let caught: unknown;
    try {
      applyMigrations(db);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BerthError);
    expect((caught as BerthError).code).toBe('STORE_SCHEMA_TOO_NEW');
  });

  it('openStore refuses a newer schema and releases the lock', () => {
    const path = join(dataDir, DATABASE_FILE_NAME);
    const newer = new Database(path);
    newer.exec('PRAGMA user_version = 999');
    newer.close();
    expect(() => openStore(dataDir)).toThrow(/version 999/);
    const again = new Database(path);
    try {
      expect(schemaVersion(again)).toBe(999);
    } finally {
      again.close();
    }
    // The failed open released the lock.
    expect(existsSync(join(dataDir, LOCK_FILE_NAME))).toBe(false);
  });
});
