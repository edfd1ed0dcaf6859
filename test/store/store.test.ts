import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BerthError } from '../../operator/model/errors.js';
import type { ObjectRef } from '../../operator/plan/types.js';
import { nodePortCandidates, openStore, type Store } from '../../operator/store/index.js';

const T0 = '2026-11-25T10:00:00.000Z';
const T1 = '2026-11-25T10:01:00.000Z';

const web: ObjectRef = { kind: 'Service', namespace: 'default', name: 'web' };
const rc: ObjectRef = { kind: 'ReplicationController', namespace: 'default', name: 'web' };
const pod: ObjectRef = { kind: 'Pod', namespace: 'tools', name: 'debug' };

let dataDir: string;
let store: Store;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  store = openStore(dataDir);
});

afterEach(() => {
  store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function reopen(): Store {
  store.close();
  store = openStore(dataDir);
  return store;
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return error instanceof BerthError ? error.code : `not a BerthError: ${String(error)}`;
  }
  return undefined;
}

describe('inventory', () => {
  it('records applied objects per source and keeps them across a reopen', () => {
    store.recordApplied('shop', [{ ref: web, applied: { spec: { ports: [{ port: 80 }] } } }], T0);
    store.recordApplied('shop', [{ ref: rc, applied: { spec: { replicas: 2 } } }], T0);
    store.recordApplied('other', [{ ref: pod, applied: { spec: {} } }], T0);

    const shop = reopen().inventory('shop');
    expect(shop.map((entry) => entry.key)).toEqual([
      'ReplicationController/default/web',
      'Service/default/web',
    ]);
    expect(shop[1]).toEqual({
      ref: web,
      key: 'Service/default/web',
      applied: { spec: { ports: [{ port: 80 }] } },
      appliedAt: T0,
    });
    expect(store.inventoryApps()).toEqual(['other', 'shop']);
  });

  it('updates an object applied again, forgets deleted ones, replaces the whole set', () => {
    store.recordApplied('shop', [{ ref: rc, applied: { v: 1 } }], T0);
    store.recordApplied('shop', [{ ref: rc, applied: { v: 2 } }], T1);
    expect(store.inventory('shop')).toEqual([
      { ref: rc, key: 'ReplicationController/default/web', applied: { v: 2 }, appliedAt: T1 },
    ]);

    store.recordApplied('shop', [{ ref: web, applied: {} }], T1);
    store.forgetApplied('shop', [rc]);
    expect(store.inventory('shop').map((entry) => entry.key)).toEqual(['Service/default/web']);

    store.replaceInventory('shop', [{ ref: pod, applied: { p: true } }], T1);
    expect(store.inventory('shop').map((entry) => entry.key)).toEqual(['Pod/tools/debug']);
    store.replaceInventory('shop', [], T1);
    expect(store.inventory('shop')).toEqual([]);
    expect(store.inventoryApps()).toEqual([]);
  });

  it('writes a batch wholly or not at all', () => {
    store.recordApplied('shop', [{ ref: web, applied: { v: 1 } }], T0);
    const badKind = { kind: 'Deployment', namespace: 'default', name: 'x' } as unknown as ObjectRef;
    expect(
      codeOf(() =>
        store.replaceInventory(
          'shop',
          [
            { ref: rc, applied: {} },
            { ref: badKind, applied: {} },
          ],
          T1,
        ),
      ),
    ).toBe('STORE_FAILED');
    // The delete and the first insert of the failed batch were rolled back.
    expect(store.inventory('shop').map((entry) => entry.key)).toEqual(['Service/default/web']);
  });
});

describe('transaction', () => {
  it('commits every call inside it together, or none when it throws', () => {
    const entry = { ref: web, applied: { spec: {} } };
    expect(() =>
      store.transaction(() => {
        store.recordApplied('a', [entry], T0);
        store.putAssignments([{ podKey: 'default/p', node: 'n1', pod: { metadata: {} } }]);
        throw new Error('stop half way');
      }),
    ).toThrow(/stop half way/);
    expect(store.inventory('a')).toEqual([]);
    expect(store.assignments()).toEqual([]);

    expect(
      store.transaction(() => {
        store.recordApplied('a', [entry], T0);
        store.putAssignments([{ podKey: 'default/p', node: 'n1', pod: { metadata: {} } }]);
        return 'done';
      }),
    ).toBe('done');
    expect(
      reopen()
        .inventory('a')
        .map((e) => e.key),
    ).toEqual(['Service/default/web']);
    expect(store.assignments().map((a) => a.podKey)).toEqual(['default/p']);
  });
});

describe('events', () => {
  it('records events newest first, per app, and keeps them across a reopen', () => {
    const first = store.addEvent({
      at: T0,
      type: 'Warning',
      reason: 'DriftRepaired',
      object: 'pod/web-abcde',
      app: 'shop',
      node: 'n1',
      message: 'container main was removed by hand; started again',
    });
    expect(first).toMatchObject({ id: 1, app: 'shop', node: 'n1', type: 'Warning' });
    store.addEvent({
      at: T1,
      type: 'Normal',
      reason: 'Synced',
      object: 'app/blog',
      app: 'blog',
      message: 'ok',
    });
    expect(
      reopen()
        .events()
        .map((e) => e.reason),
    ).toEqual(['Synced', 'DriftRepaired']);
    expect(store.events({ app: 'shop' }).map((e) => e.object)).toEqual(['pod/web-abcde']);
    expect(store.events({ limit: 1 })).toHaveLength(1);
    expect(store.events()[0]).not.toHaveProperty('node');
  });
});

describe('apps', () => {
  it('records an app with its source and settings, keeps createdAt on update, removes it', () => {
    const first = store.putApp(
      { name: 'guestbook', source: '/srv/gb', settings: { ref: 'main' } },
      T0,
    );
    expect(first).toEqual({
      name: 'guestbook',
      source: '/srv/gb',
      settings: { ref: 'main' },
      createdAt: T0,
      updatedAt: T0,
    });
    store.putApp({ name: 'guestbook', source: '/srv/gb2', settings: {} }, T1);
    expect(reopen().app('guestbook')).toEqual({
      name: 'guestbook',
      source: '/srv/gb2',
      settings: {},
      createdAt: T0,
      updatedAt: T1,
    });
    store.putApp({ name: 'blog', source: '/srv/blog', settings: {} }, T1);
    expect(store.apps().map((app) => app.name)).toEqual(['blog', 'guestbook']);
    expect(store.removeApp('blog')).toBe(true);
    expect(store.removeApp('blog')).toBe(false);
    expect(store.app('blog')).toBeUndefined();
  });
});

describe('sync history', () => {
  it('opens an entry, finishes it and lists the newest first', () => {
    const first = store.startSync('shop', 'aaa111', T0);
    store.finishSync(first, {
      finishedAt: T1,
      outcome: 'succeeded',
      summary: { create: 2, update: 1, replace: 0, delete: 0, unchanged: 3 },
    });
    const second = store.startSync('shop', 'bbb222', T1);
    store.startSync('other', 'ccc333', T1);

    const history = reopen().syncHistory('shop');
    expect(history.map((record) => record.id)).toEqual([second, first]);
    expect(history[1]).toEqual({
      id: first,
      app: 'shop',
      commit: 'aaa111',
      startedAt: T0,
      finishedAt: T1,
      outcome: 'succeeded',
      summary: { create: 2, update: 1, replace: 0, delete: 0, unchanged: 3 },
      message: '',
    });
    // Still running (or the operator died during it): no finish, no outcome.
    expect(history[0]).not.toHaveProperty('finishedAt');
    expect(history[0]).not.toHaveProperty('outcome');
    expect(store.syncHistory('shop', 1).map((record) => record.id)).toEqual([second]);
  });

  it('keeps a failure message and refuses to finish an unknown entry', () => {
    const id = store.startSync('shop', 'aaa111', T0);
    store.finishSync(id, {
      finishedAt: T1,
      outcome: 'failed',
      summary: { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0 },
      message: 'image pull failed',
    });
    expect(store.sync(id)?.message).toBe('image pull failed');
    expect(store.sync(id)?.outcome).toBe('failed');
    expect(store.sync(id + 100)).toBeUndefined();
    expect(
      codeOf(() =>
        store.finishSync(id + 100, {
          finishedAt: T1,
          outcome: 'failed',
          summary: { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0 },
        }),
      ),
    ).toBe('STORE_FAILED');
  });
});

describe('node registry', () => {
  it('registers, updates, records heartbeats and removes nodes with their assignments', () => {
    store.upsertNode({
      name: 'node-a',
      labels: { zone: 'a' },
      capacity: { cpu: 4, memoryBytes: 8 * 2 ** 30 },
      address: 'http://127.0.0.1:7001',
      registeredAt: T0,
    });
    expect(store.recordHeartbeat('node-a', T1)).toBe(true);
    expect(store.recordHeartbeat('ghost', T1)).toBe(false);
    store.upsertNode({
      name: 'node-a',
      labels: { zone: 'b', disk: 'ssd' },
      capacity: { cpu: 2.5, memoryBytes: 1024 },
      registeredAt: T1,
    });
    store.upsertNode({
      name: 'node-b',
      labels: {},
      capacity: { cpu: 1, memoryBytes: 1 },
      registeredAt: T1,
    });

    expect(reopen().node('node-a')).toEqual({
      name: 'node-a',
      labels: { zone: 'b', disk: 'ssd' },
      capacity: { cpu: 2.5, memoryBytes: 1024 },
      // First registration time and the heartbeat survive a re-registration.
      registeredAt: T0,
      lastHeartbeat: T1,
    });
    expect(store.nodes().map((node) => node.name)).toEqual(['node-a', 'node-b']);

    store.putAssignments([
      { podKey: 'default/a', node: 'node-a', pod: {} },
      { podKey: 'default/b', node: 'node-b', pod: {} },
    ]);
    expect(store.removeNode('node-a')).toBe(true);
    expect(store.removeNode('node-a')).toBe(false);
    expect(store.node('node-a')).toBeUndefined();
    expect(store.assignments().map((a) => a.podKey)).toEqual(['default/b']);
  });
});

describe('allocations', () => {
  it('gives each owner the first free value and the same one when asked again', () => {
    const ports = { min: 30000, max: 30002 };
    expect(store.allocate('nodePort', 'svc-a', nodePortCandidates(ports), T0)).toBe('30000');
    expect(store.allocate('nodePort', 'svc-b', nodePortCandidates(ports), T0)).toBe('30001');
    expect(store.allocate('nodePort', 'svc-a', nodePortCandidates(ports), T0)).toBe('30000');
    expect(store.release('nodePort', 'svc-a')).toBe(true);
    expect(store.release('nodePort', 'svc-a')).toBe(false);
    expect(store.allocate('nodePort', 'svc-c', nodePortCandidates(ports), T0)).toBe('30000');
    expect(store.allocate('nodePort', 'svc-d', nodePortCandidates(ports), T0)).toBe('30002');
    expect(codeOf(() => store.allocate('nodePort', 'svc-e', nodePortCandidates(ports), T0))).toBe(
      'STORE_ALLOCATION_EXHAUSTED',
    );
    // Kinds are separate spaces.
    expect(store.allocate('clusterIP', 'svc-e', ['10.96.0.10'], T0)).toBe('10.96.0.10');
    expect(reopen().allocations('nodePort')).toEqual([
      { kind: 'nodePort', value: '30000', owner: 'svc-c', allocatedAt: T0 },
      { kind: 'nodePort', value: '30001', owner: 'svc-b', allocatedAt: T0 },
      { kind: 'nodePort', value: '30002', owner: 'svc-d', allocatedAt: T0 },
    ]);
    expect(store.allocations().length).toBe(4);
  });

  it('claims a given value once, refusing another owner', () => {
    store.claim('nodePort', 'svc-a', '30080', T0);
    store.claim('nodePort', 'svc-a', '30080', T1);
    expect(codeOf(() => store.claim('nodePort', 'svc-b', '30080', T0))).toBe(
      'STORE_ALLOCATION_TAKEN',
    );
    // Claiming another value moves the owner: it holds one value per kind.
    store.claim('nodePort', 'svc-a', '30081', T1);
    expect(store.allocations('nodePort').map((a) => [a.value, a.owner])).toEqual([
      ['30081', 'svc-a'],
    ]);
    // A claimed value is skipped by allocation.
    expect(store.allocate('nodePort', 'svc-b', ['30081', '30082'], T1)).toBe('30082');
  });

  it('enforces uniqueness in the database, not only in the code', () => {
    store.close();
    // A second connection that bypasses the store's checks still cannot take a held value.
    store = openStore(dataDir);
    store.claim('clusterIP', 'svc-a', '10.96.0.5', T0);
    store.close();
    const raw = openRaw(join(dataDir, 'berth.db'));
    try {
      expect(() =>
        raw
          .prepare('INSERT INTO allocations (kind, value, owner, allocated_at) VALUES (?, ?, ?, ?)')
          .run('clusterIP', '10.96.0.5', 'svc-b', T0),
      ).toThrow(/UNIQUE|PRIMARY/);
    } finally {
      raw.close();
    }
    store = openStore(dataDir);
  });
});

describe('pod assignments', () => {
  it('stores pods per node with a version that grows on each write', () => {
    const written = store.putAssignments([
      { podKey: 'default/web-1', node: 'node-a', pod: { metadata: { name: 'web-1' } } },
      { podKey: 'default/web-2', node: 'node-b', pod: { metadata: { name: 'web-2' } } },
    ]);
    expect(written.map((a) => a.version)).toEqual([1, 1]);
    const moved = store.putAssignments([
      { podKey: 'default/web-1', node: 'node-b', pod: { metadata: { name: 'web-1' }, v: 2 } },
    ]);
    expect(moved).toEqual([
      {
        podKey: 'default/web-1',
        node: 'node-b',
        pod: { metadata: { name: 'web-1' }, v: 2 },
        version: 2,
      },
    ]);

    reopen();
    expect(store.assignments('node-b').map((a) => a.podKey)).toEqual([
      'default/web-1',
      'default/web-2',
    ]);
    expect(store.assignments('node-a')).toEqual([]);
    expect(store.assignment('default/web-1')?.version).toBe(2);
    expect(store.removeAssignments(['default/web-1', 'default/missing'])).toBe(1);
    expect(store.assignments().map((a) => a.podKey)).toEqual(['default/web-2']);
  });
});

describe('open and close', () => {
  it('uses WAL mode and refuses calls after close', () => {
    store.close();
    const raw = openRaw(join(dataDir, 'berth.db'));
    try {
      const row = raw.prepare('SELECT journal_mode AS mode FROM pragma_journal_mode').get() as {
        mode: string;
      };
      expect(row.mode).toBe('wal');
    } finally {
      raw.close();
    }
    expect(codeOf(() => store.nodes())).toBe('STORE_FAILED');
    store.close();
    store = openStore(dataDir);
  });
});

function openRaw(path: string): Database.Database {
  return new Database(path);
}
