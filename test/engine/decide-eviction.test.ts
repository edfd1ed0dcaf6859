import { describe, expect, it } from 'vitest';
import { type Decision, type NodeView, podKey } from '../../operator/engine/decide.js';
import { emptySnapshot } from '../../operator/engine/state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import { decideOne } from './decide-one.js';

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

/** A deterministic random source (LCG), so generated names and uids repeat run to run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const APP = `apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox:1
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers:
  - name: c
    image: busybox:1
    resources: {requests: {cpu: 100m, memory: 64Mi}}
`;

const T0 = Date.parse('2026-11-25T12:00:00Z');

function node(name: string, lastHeartbeat: number | undefined, ready = true): NodeView {
  return {
    name,
    ready,
    labels: {},
    capacity: { cpu: 2, memoryBytes: 4 * 2 ** 30 },
    pods: [],
    ...(lastHeartbeat === undefined ? {} : { lastHeartbeat }),
  };
}

/** Everything first placed on node-a alone (node-b joins later), so node-a is the one to go silent. */
function placedOnA(): Decision {
  const first = decideOne(load(APP), emptySnapshot(), [node('node-a', T0)], T0, {
    random: seeded(11),
  });
  for (const stored of first.next.pods.values()) expect(stored.node).toBe('node-a');
  expect(first.next.pods.size).toBe(3);
  return first;
}

function keysOn(decision: Decision, nodeName: string): string[] {
  return (decision.assignments.get(nodeName) ?? []).map(podKey).sort();
}

describe('decide: node grace and eviction', () => {
  const cases: {
    readonly title: string;
    /** ms after node-a's last heartbeat (T0) that the pass runs. */
    readonly silentMs: number;
    readonly options?: { nodeGraceMs?: number; evictionTimeoutMs?: number };
    readonly notReady: boolean;
    readonly evicted: boolean;
  }[] = [
    { title: 'heard from just now', silentMs: 0, notReady: false, evicted: false },
    { title: 'silent 39 s: within grace', silentMs: 39_000, notReady: false, evicted: false },
    { title: 'silent 40 s: NotReady', silentMs: 40_000, notReady: true, evicted: false },
    { title: 'silent 59.999 s: not yet evicted', silentMs: 59_999, notReady: true, evicted: false },
    { title: 'silent 60 s: evicted', silentMs: 60_000, notReady: true, evicted: true },
    { title: 'silent 10 min: evicted', silentMs: 600_000, notReady: true, evicted: true },
    {
      title: 'custom times: grace 5 s, eviction 8 s, silent 6 s',
      silentMs: 6_000,
      options: { nodeGraceMs: 5_000, evictionTimeoutMs: 8_000 },
      notReady: true,
      evicted: false,
    },
    {
      title: 'custom times: grace 5 s, eviction 8 s, silent 8 s',
      silentMs: 8_000,
      options: { nodeGraceMs: 5_000, evictionTimeoutMs: 8_000 },
      notReady: true,
      evicted: true,
    },
  ];

  for (const row of cases) {
    it(row.title, () => {
      const first = placedOnA();
      const now = T0 + row.silentMs;
      // node-b keeps beating, so it is the only place a replacement can go.
      const nodes = [node('node-a', T0), node('node-b', now)];
      const pass = decideOne(load(APP), first.next, nodes, now, {
        random: seeded(12),
        ...row.options,
      });
      const oldKeys = [...first.next.pods.keys()].sort();
      const oldRcKeys = oldKeys.filter((key) => key.startsWith('default/web-'));
      expect(oldRcKeys).toHaveLength(2);

      // The bare pod stays bound to node-a whatever happens.
      expect(pass.next.pods.get('default/solo')?.node).toBe('node-a');
      const soloReport = pass.reports.find((r) => r.ref.name === 'solo');
      if (row.notReady) {
        expect(soloReport?.action).toBe('unchanged');
        expect(soloReport?.node).toBe('node-a');
        expect(soloReport?.reason).toContain('unreachable');
        expect(soloReport?.reason).toContain(new Date(T0).toISOString());
      } else {
        // The planner's own report for a source pod, untouched.
        expect(soloReport).toEqual({
          app: 'app',
          ref: soloReport?.ref,
          action: 'unchanged',
          reason: 'in sync',
        });
      }

      if (!row.evicted) {
        expect([...pass.next.pods.keys()].sort()).toEqual(oldKeys);
        expect(keysOn(pass, 'node-a')).toEqual(oldKeys);
        expect(keysOn(pass, 'node-b')).toEqual([]);
        return;
      }
      // Evicted: the old RC pods leave node-a's set and the store.
      expect(keysOn(pass, 'node-a')).toEqual(['default/solo']);
      for (const key of oldRcKeys) expect(pass.next.pods.has(key)).toBe(false);
      const deletes = pass.reports.filter((r) => r.action === 'delete').map((r) => podKey2(r.ref));
      expect(deletes.sort()).toEqual(oldRcKeys);
      // Replacements: new names, on node-b, owned by the RC.
      const onB = keysOn(pass, 'node-b');
      expect(onB).toHaveLength(2);
      for (const key of onB) {
        expect(key).toMatch(/^default\/web-[a-z0-9]+$/);
        expect(oldKeys).not.toContain(key);
        expect(pass.next.pods.get(key)?.node).toBe('node-b');
      }
    });
  }

  it('places nothing new on a silent node even if its ready flag is stale', () => {
    const first = placedOnA();
    const now = T0 + 45_000;
    const pass = decideOne(load(APP), first.next, [node('node-a', T0, true)], now, {
      random: seeded(13),
    });
    // Only the silent node exists: nothing moves, nothing is evicted yet.
    expect(keysOn(pass, 'node-a')).toEqual([...first.next.pods.keys()].sort());
    const later = decideOne(load(APP), pass.next, [node('node-a', T0, true)], T0 + 61_000, {
      random: seeded(14),
    });
    // Evicted, but no ready node takes the replacements: they wait Pending, named anew.
    expect(keysOn(later, 'node-a')).toEqual(['default/solo']);
    const pending = later.reports.filter((r) => r.action === 'pending');
    expect(pending).toHaveLength(2);
    for (const report of pending) expect(report.reason).toMatch(/^0\/1 nodes are available/);
  });

  it('keeps a changed bare pod on its silent node rather than run its name twice', () => {
    const first = placedOnA();
    const changed = APP.replace(
      /name: solo}\n(spec:\n {2}containers:\n {2}- name: c\n {4}image: )busybox:1/,
      'name: solo}\n$1busybox:2',
    );
    expect(changed).toContain('busybox:2');
    const now = T0 + 45_000;
    const pass = decideOne(
      load(changed),
      first.next,
      [node('node-a', T0), node('node-b', now)],
      now,
      {
        random: seeded(18),
      },
    );
    const solo = pass.next.pods.get('default/solo');
    expect(solo?.node).toBe('node-a');
    expect(solo?.pod.spec.containers[0]?.image).toBe('busybox:2');
    expect(solo?.pod.metadata.uid).not.toBe(first.next.pods.get('default/solo')?.pod.metadata.uid);
    expect(keysOn(pass, 'node-b')).toEqual([]);
    expect(pass.reports.find((r) => r.ref.name === 'solo' && r.action === 'scheduled')?.node).toBe(
      'node-a',
    );
  });

  it('a node without a heartbeat time is judged by its ready flag alone', () => {
    const first = placedOnA();
    const pass = decideOne(
      load(APP),
      first.next,
      [node('node-a', undefined, false), node('node-b', undefined)],
      T0 + 3_600_000,
      { random: seeded(15) },
    );
    expect([...pass.next.pods.keys()].sort()).toEqual([...first.next.pods.keys()].sort());
    expect(pass.reports.find((r) => r.ref.name === 'solo')?.reason).toContain('NotReady');
  });

  it('the node that comes back after eviction gets a set without the evicted pods', () => {
    const first = placedOnA();
    const evicted = decideOne(
      load(APP),
      first.next,
      [node('node-a', T0), node('node-b', T0 + 70_000)],
      T0 + 70_000,
      { random: seeded(16) },
    );
    const back = decideOne(
      load(APP),
      evicted.next,
      [node('node-a', T0 + 80_000), node('node-b', T0 + 80_000)],
      T0 + 80_000,
      { random: seeded(17) },
    );
    expect(keysOn(back, 'node-a')).toEqual(['default/solo']);
    expect(keysOn(back, 'node-b')).toEqual(keysOn(evicted, 'node-b'));
    // Nothing is made, deleted or placed again; solo is back to plain in sync.
    const podReports = back.reports.filter((r) => r.ref.kind === 'Pod');
    expect(podReports.map((r) => `${r.ref.name}:${r.action}:${r.reason}`)).toEqual([
      'solo:unchanged:in sync',
    ]);
  });
});

function podKey2(ref: { readonly namespace: string; readonly name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}
