import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../operator/agent/lifecycle/clock.js';
import { createNodeClient, type NodeClient } from '../../operator/api/node-client.js';
import { createNodeEndpoint, type NodeEndpoint } from '../../operator/api/node-endpoint.js';
import type { PodReport } from '../../operator/api/protocol.js';
import { createEngine } from '../../operator/engine/engine.js';
import { sameJson } from '../../operator/engine/same-json.js';
import type { EngineState } from '../../operator/engine/state.js';
import { createStoreState } from '../../operator/engine/store-state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { openStore, type Store } from '../../operator/store/index.js';

/**
 * The store-backed state keeps its last snapshot in memory and writes only what changed: what
 * it hands out must always be what a fresh read of the store returns, here and after reopen.
 */

const TOKEN = 'store-state-token';
const closers: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

function rc(name: string, replicas: number): string {
  return `apiVersion: v1
kind: ReplicationController
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {app: ${name}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: c, image: busybox:1, resources: {requests: {cpu: 10m}}}]
`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`;

const BARE = `apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: tools}
spec:
  containers: [{name: c, image: busybox:1}]
`;

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function tempStore(): { store: Store; dataDir: string; reopen(): Store } {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-store-state-'));
  const handle = {
    dataDir,
    store: openStore(dataDir),
    reopen(): Store {
      handle.store.close();
      handle.store = openStore(dataDir);
      return handle.store;
    },
  };
  closers.push(() => {
    handle.store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return handle;
}

async function serve(clock: ManualClock): Promise<{ endpoint: NodeEndpoint; url: string }> {
  const endpoint = createNodeEndpoint({ token: TOKEN, now: () => clock.now() });
  const server = await endpoint.listen('127.0.0.1', 0);
  closers.push(server.close);
  return { endpoint, url: server.url };
}

async function nodes(url: string, count: number): Promise<NodeClient[]> {
  const clients: NodeClient[] = [];
  for (let i = 1; i <= count; i += 1) {
    const client = createNodeClient({ server: url, token: TOKEN, name: `node-${i}` });
    await client.register({ labels: {}, capacity: { cpu: 4, memoryBytes: 2 ** 32 } });
    clients.push(client);
  }
  return clients;
}

/** Each node reports every pod it was handed Running, with `restarts` for the named ones. */
async function reportAll(
  clients: readonly NodeClient[],
  restarts: ReadonlyMap<string, number> = new Map(),
): Promise<void> {
  for (const client of clients) {
    const { pods } = await client.watchAssignments('', 0);
    const reports: PodReport[] = pods.map((pod: Pod) => ({
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name ?? '',
      uid: pod.metadata.uid ?? '',
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [
          {
            name: 'c',
            state: { running: { startedAt: '2026-01-01T00:00:00Z' } },
            lastState: {},
            ready: true,
            restartCount: restarts.get(pod.metadata.name ?? '') ?? 0,
            image: 'busybox:1',
            imageID: '',
          },
        ],
      },
    }));
    await client.reportStatus(reports);
  }
}

/** What a store-backed state that has kept nothing reads from this store. */
function fresh(store: Store): ReturnType<EngineState['load']> {
  return createStoreState(store, { now: () => '2026-01-01T00:00:00.000Z' }).load();
}

function asPlain(snapshot: ReturnType<EngineState['load']>): unknown {
  return {
    apps: [...snapshot.apps].map(([app, objects]) => [app, objects]),
    pods: [...snapshot.pods],
    allocations: snapshot.allocations,
  };
}

describe('store-backed engine state', () => {
  it('hands out exactly what the store holds, pass after pass and after reopen', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const clients = await nodes(url, 3);
    const handle = tempStore();
    const now = () => new Date(clock.now()).toISOString();
    const state = createStoreState(handle.store, { now });
    const engine = createEngine({ endpoint, state, clock, random: seeded(7) });
    const check = (): void => {
      expect(asPlain(state.load())).toStrictEqual(asPlain(fresh(handle.store)));
    };

    engine.sync('web', load([rc('web', 4), SERVICE].join('---\n')));
    check();
    engine.sync('tools', load([BARE, rc('batch', 2)].join('---\n')));
    check();
    await reportAll(clients);
    engine.reconcile();
    check();
    expect([...state.load().pods.values()].every((stored) => stored.pod.status !== undefined)).toBe(
      true,
    );
    clock.advance(1_000);
    engine.reconcile();
    check();
    // Scale one RC up and the other down, restart a pod, drop an app's object.
    engine.sync('web', load([rc('web', 6), SERVICE].join('---\n')));
    check();
    const some =
      [...state.load().pods.values()].find((stored) => stored.pod.metadata.name?.startsWith('web-'))
        ?.pod.metadata.name ?? 'web-?';
    await reportAll(clients, new Map([[some, 3]]));
    engine.sync('tools', load(rc('batch', 1)));
    check();
    engine.reconcile();
    check();
    // An app left without objects has no inventory rows: a fresh read does not list it.
    engine.sync('gone', load(SERVICE.replace('name: web', 'name: gone')));
    check();
    engine.sync('gone', [], { allowEmpty: true });
    check();
    expect(state.load().apps.has('gone')).toBe(false);

    const saved = asPlain(state.load());
    const reopened = handle.reopen();
    const again = createStoreState(reopened, { now });
    expect(asPlain(again.load())).toStrictEqual(saved);
    // The status that pod reported survived too.
    const restarted = [...again.load().pods.values()].find(
      (stored) => stored.pod.metadata.name === some,
    );
    expect(restarted).toBeDefined();
    expect(restarted?.pod.status?.containerStatuses?.[0]?.restartCount).toBe(3);
  });

  it("keeps the services' allocations: claims, moves and releases in the store", () => {
    const handle = tempStore();
    const state = createStoreState(handle.store, { now: () => '2026-01-01T00:00:00.000Z' });
    const web = { kind: 'clusterIP' as const, owner: 'Service/default/web', value: '10.96.0.2' };
    const port = { kind: 'nodePort' as const, owner: 'Service/default/web#http', value: '30000' };
    state.save({ apps: new Map(), pods: new Map(), allocations: [port, web] });
    expect(asPlain(state.load())).toEqual(asPlain(fresh(handle.reopen())));
    const moved = { ...web, value: '10.96.0.9' };
    const again = createStoreState(handle.store, { now: () => '2026-01-01T00:00:01.000Z' });
    again.save({ apps: new Map(), pods: new Map(), allocations: [moved] });
    expect(handle.store.allocations().map((a) => `${a.owner}=${a.value}`)).toEqual([
      'Service/default/web=10.96.0.9',
    ]);
    expect(asPlain(again.load())).toEqual(asPlain(fresh(handle.reopen())));
  });

  it('writes only the pods that changed', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const clients = await nodes(url, 2);
    const { store } = tempStore();
    const state = createStoreState(store, { now: () => new Date(clock.now()).toISOString() });
    const engine = createEngine({ endpoint, state, clock, random: seeded(8) });
    engine.sync('web', load(rc('web', 4)));
    await reportAll(clients);
    engine.reconcile();
    const versions = (): Map<string, number> =>
      new Map(store.assignments().map((row) => [row.podKey, row.version]));
    const before = versions();
    const appliedAt = store.inventory('web').map((entry) => entry.appliedAt);

    clock.advance(1_000);
    engine.reconcile();
    // Every node reports its whole set again, unchanged.
    await reportAll(clients);
    engine.reconcile();
    expect(versions()).toEqual(before);
    expect(store.inventory('web').map((entry) => entry.appliedAt)).toEqual(appliedAt);

    const [first] = [...before.keys()];
    const name = first?.slice(first.indexOf('/') + 1) ?? '';
    await reportAll(clients, new Map([[name, 1]]));
    engine.reconcile();
    const after = versions();
    for (const [key, version] of before) {
      expect(after.get(key)).toBe(key === first ? version + 1 : version);
    }
  });

  it('reads the store again after a save that failed', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    await nodes(url, 1);
    const { store } = tempStore();
    let failWrites = false;
    const flaky: Store = {
      ...store,
      transaction: (work) => store.transaction(work),
      putAssignments: (rows) => {
        const written = store.putAssignments(rows);
        if (failWrites) throw new Error('disk full');
        return written;
      },
    };
    const state = createStoreState(flaky, { now: () => new Date(clock.now()).toISOString() });
    const engine = createEngine({ endpoint, state, clock, random: seeded(9) });
    engine.sync('web', load(rc('web', 2)));
    const good = asPlain(state.load());

    failWrites = true;
    expect(() => engine.sync('web', load(rc('web', 3)))).toThrow(/disk full/);
    // The transaction rolled back; the state hands out what the store holds, not the lost pass.
    expect(asPlain(state.load())).toStrictEqual(good);
    expect(asPlain(state.load())).toStrictEqual(asPlain(fresh(store)));

    failWrites = false;
    engine.sync('web', load(rc('web', 3)));
    expect(state.load().pods.size).toBe(3);
    expect(asPlain(state.load())).toStrictEqual(asPlain(fresh(store)));
  });

  it('keeps the kept snapshot to itself', () => {
    const { store } = tempStore();
    const state = createStoreState(store, { now: () => '2026-01-01T00:00:00.000Z' });
    const pod = load(BARE)[0]?.object as Pod;
    state.save({ apps: new Map(), pods: new Map([['tools/solo', { pod, node: 'node-1' }]]) });
    const loaded = state.load();
    (loaded.pods as Map<string, unknown>).clear();
    expect(state.load().pods.size).toBe(1);
    expect(fresh(store).pods.get('tools/solo')?.node).toBe('node-1');
  });
});

describe('engine hand-out to the endpoint', () => {
  it('skips nodes whose set is unchanged, and hands it again when the endpoint moved', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const clients = await nodes(url, 2);
    const { store } = tempStore();
    const assigned: string[] = [];
    const counting: NodeEndpoint = {
      ...endpoint,
      assign(node, pods) {
        assigned.push(node);
        endpoint.assign(node, pods);
      },
    };
    const state = createStoreState(store, { now: () => new Date(clock.now()).toISOString() });
    const engine = createEngine({ endpoint: counting, state, clock, random: seeded(10) });
    engine.sync('web', load(rc('web', 4)));
    expect(assigned.sort()).toEqual(['node-1', 'node-2']);
    await reportAll(clients);
    engine.reconcile();
    assigned.length = 0;

    engine.reconcile();
    await reportAll(clients, new Map());
    engine.reconcile();
    expect(assigned).toEqual([]);

    // Someone else changed node-1's set: the next pass hands the engine's set back.
    const handed = await clients[0]?.watchAssignments('', 0);
    endpoint.assign('node-1', []);
    engine.reconcile();
    expect(assigned).toEqual(['node-1']);
    const back = await clients[0]?.watchAssignments('', 0);
    expect(back?.version).toBe(handed?.version);
    expect(back?.pods).toHaveLength(handed?.pods.length ?? -1);

    // A scale-up changes the sets of the nodes that get new pods only.
    assigned.length = 0;
    engine.sync('web', load(rc('web', 5)));
    expect(assigned).toHaveLength(1);
  });
});

describe('sameJson', () => {
  const cases: [unknown, unknown][] = [
    [
      { a: 1, b: [1, 2] },
      { a: 1, b: [1, 2] },
    ],
    [
      { a: 1, b: 2 },
      { b: 2, a: 1 },
    ],
    [{ a: 1, b: undefined }, { a: 1 }],
    [[undefined], [null]],
    [[Number.NaN], [null]],
    [{ a: Number.POSITIVE_INFINITY }, { a: null }],
    [0, -0],
    [{ a: {} }, { a: [] }],
    [{ a: '1' }, { a: 1 }],
    [{ a: [1, 2] }, { a: [1, 2, 3] }],
    [{ a: { b: { c: 'x' } } }, { a: { b: { c: 'y' } } }],
    [undefined, undefined],
    [undefined, null],
    [null, null],
    ['x', 'x'],
    [true, 1],
  ];
  it.each(cases)('%j against %j agrees with JSON.stringify', (a, b) => {
    expect(sameJson(a, b)).toBe(JSON.stringify(a) === JSON.stringify(b));
  });
});
