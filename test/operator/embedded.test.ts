/**
 * The embedded operator with a real store (temp data dir), a real endpoint on loopback and a
 * container-less agent attached over HTTP: pods placed and persisted, the data dir locked
 * while it runs, and a second operator on the same dir handing the agent its stored pods.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inventoryOf } from '../../operator/engine/state.js';
import { createStoreState } from '../../operator/engine/store-state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import { isBerthError } from '../../operator/model/errors.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { type EmbeddedOperator, startEmbeddedOperator } from '../../operator/operator/index.js';
import type { LiveObject } from '../../operator/plan/plan.js';
import { openStore } from '../../operator/store/store.js';
import { FakeNodeAgent, waitFor } from '../agent/fake-node-agent.js';

class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }
}

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

const APP = load(`apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers: [{name: c, image: busybox:1}]
`);

let dataDir: string;
const running: EmbeddedOperator[] = [];

beforeEach(async () => {
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-embedded-'));
});

afterEach(async () => {
  while (running.length > 0) await running.pop()?.close();
  await fsp.rm(dataDir, { recursive: true, force: true });
});

async function start(agent: FakeLocalAgent): Promise<EmbeddedOperator> {
  const operator = await startEmbeddedOperator({
    dataDir,
    nodeName: 'local',
    createAgent: async () => agent,
  });
  running.push(operator);
  return operator;
}

describe('startEmbeddedOperator', () => {
  it('places the pods on the local agent and keeps them in the store', async () => {
    const agent = new FakeLocalAgent();
    const operator = await start(agent);
    expect(await operator.nodeReady(10_000)).toBe(true);

    const result = operator.engine.sync('app', APP);
    expect(result.refused).toBeUndefined();
    await waitFor(() => agent.desiredNames().length === 3, 'three pods on the agent');
    expect(agent.desiredNames()).toContain('default/solo');
    expect(operator.store.assignments().map((a) => a.node)).toEqual(['local', 'local', 'local']);
    expect(operator.store.inventory('app').map((entry) => entry.key)).toEqual([
      'Pod/default/solo',
      'ReplicationController/default/web',
    ]);
  });

  it('holds the data dir lock until closed', async () => {
    const operator = await start(new FakeLocalAgent());
    let failure: unknown;
    try {
      openStore(dataDir).close();
    } catch (error) {
      failure = error;
    }
    expect(isBerthError(failure) && failure.code).toBe('STORE_LOCKED');
    await operator.close();
    const store = openStore(dataDir);
    store.close();
  });

  it('hands a restarted agent the stored pods before any sync, and a re-sync changes nothing', async () => {
    const first = new FakeLocalAgent();
    const operator = await start(first);
    await operator.nodeReady(10_000);
    operator.engine.sync('app', APP);
    await waitFor(() => first.desiredNames().length === 3, 'three pods on the agent');
    const names = first.desiredNames();
    await operator.close();
    running.pop();

    const second = new FakeLocalAgent();
    const again = await start(second);
    // No sync yet: the agent must get the stored set, never an empty one that stops pods.
    await waitFor(() => second.calls.length > 0, 'the first assignment');
    expect(second.calls.every((call) => call.pods.length === 3)).toBe(true);
    expect(second.desiredNames()).toEqual(names);

    const result = again.engine.sync('app', APP);
    expect(result.reports.every((report) => report.action === 'unchanged')).toBe(true);
    expect(second.desiredNames()).toEqual(names);
  });
});

describe('createStoreState', () => {
  it('round-trips a snapshot, pending pods included, and forgets removed pods', () => {
    const store = openStore(dataDir);
    try {
      const state = createStoreState(store, { now: () => '2026-01-01T00:00:00.000Z' });
      expect(state.load().pods.size).toBe(0);
      const solo: LiveObject = { kind: 'Pod', object: APP[1]!.object as Pod };
      const pod = (name: string): Pod => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default', uid: `uid-${name}` },
        spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
      });
      state.save({
        apps: new Map([['web', [solo]]]),
        pods: new Map([
          ['default/a', { pod: pod('a'), node: 'n1' }],
          ['default/b', { pod: pod('b') }],
        ]),
      });
      const loaded = state.load();
      expect([...inventoryOf(loaded, 'web')]).toEqual(['Pod/default/solo']);
      expect(loaded.apps.get('web')).toEqual([solo]);
      expect(loaded.pods.get('default/a')).toEqual({ pod: pod('a'), node: 'n1' });
      expect(loaded.pods.get('default/b')).toEqual({ pod: pod('b') });

      state.save({
        apps: new Map(),
        pods: new Map([['default/b', { pod: pod('b'), node: 'n2' }]]),
      });
      const next = state.load();
      expect(next.apps.size).toBe(0);
      expect([...next.pods.keys()]).toEqual(['default/b']);
      expect(next.pods.get('default/b')?.node).toBe('n2');
    } finally {
      store.close();
    }
  });
});
