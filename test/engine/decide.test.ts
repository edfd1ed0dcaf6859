import { describe, expect, it } from 'vitest';
import { type NodeView, podKey } from '../../operator/engine/decide.js';
import { type EngineSnapshot, emptySnapshot, inventoryOf } from '../../operator/engine/state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import type { Pod } from '../../operator/model/generated/types.js';
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

function rc(replicas: number, image = 'busybox:1'): string {
  return `apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: ${replicas}
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: ${image}
        resources: {requests: {cpu: 100m, memory: 64Mi}}
`;
}

function pod(name: string, image = 'busybox:1', cpu = '100m'): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  containers:
  - name: c
    image: ${image}
    resources: {requests: {cpu: ${cpu}, memory: 64Mi}}
`;
}

function node(name: string, ready = true, cpu = 2): NodeView {
  return { name, ready, labels: {}, capacity: { cpu, memoryBytes: 4 * 2 ** 30 }, pods: [] };
}

const NOW = Date.parse('2026-11-25T12:00:00Z');
const TWO_NODES = [node('node-a'), node('node-b')];

function assignedKeys(assignments: ReadonlyMap<string, readonly Pod[]>): string[] {
  return [...assignments.values()].flat().map(podKey);
}

function sizes(assignments: ReadonlyMap<string, readonly Pod[]>): number[] {
  return [...assignments.values()].map((pods) => pods.length).sort();
}

describe('decide', () => {
  it('creates an RC’s replicas and spreads them over the ready nodes', () => {
    const decision = decideOne(load(rc(3)), emptySnapshot(), TWO_NODES, NOW, { random: seeded(1) });
    expect(decision.refused).toBeUndefined();
    expect(inventoryOf(decision.next, 'app')).toEqual(
      new Set(['ReplicationController/default/web']),
    );
    expect(decision.next.pods.size).toBe(3);
    expect(sizes(decision.assignments)).toEqual([1, 2]);
    const keys = assignedKeys(decision.assignments);
    expect(new Set(keys).size).toBe(3);
    for (const stored of decision.next.pods.values()) {
      expect(stored.node).toBeDefined();
      expect(stored.pod.spec.nodeName).toBe(stored.node);
      expect(stored.pod.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(stored.pod.metadata.ownerReferences?.[0]?.name).toBe('web');
    }
    const actions = decision.reports.map((report) => `${report.ref.kind}:${report.action}`);
    expect(actions.filter((action) => action === 'Pod:create')).toHaveLength(3);
    expect(actions.filter((action) => action === 'Pod:scheduled')).toHaveLength(3);
    const rcReport = decision.reports.find((r) => r.ref.kind === 'ReplicationController');
    expect(rcReport?.action).toBe('create');
    expect(rcReport?.replicas?.desiredReplicas).toBe(3);
  });

  it('is level-triggered: a second pass over the same state changes nothing', () => {
    const objects = load(rc(3));
    const first = decideOne(objects, emptySnapshot(), TWO_NODES, NOW, { random: seeded(2) });
    const second = decideOne(objects, first.next, TWO_NODES, NOW + 1000, { random: seeded(3) });
    expect([...second.next.pods.keys()].sort()).toEqual([...first.next.pods.keys()].sort());
    expect(second.assignments).toEqual(first.assignments);
    expect(second.reports.filter((report) => report.ref.kind === 'Pod')).toEqual([]);
  });

  it('scales down by deleting pods, and each pod stays on its node', () => {
    const first = decideOne(load(rc(3)), emptySnapshot(), TWO_NODES, NOW, { random: seeded(4) });
    const second = decideOne(load(rc(1)), first.next, TWO_NODES, NOW + 1000, { random: seeded(5) });
    expect(second.next.pods.size).toBe(1);
    expect(assignedKeys(second.assignments)).toHaveLength(1);
    const [kept] = [...second.next.pods.entries()];
    expect(kept).toBeDefined();
    if (kept === undefined) return;
    expect(first.next.pods.get(kept[0])?.node).toBe(kept[1].node);
    const deletes = second.reports.filter((r) => r.ref.kind === 'Pod' && r.action === 'delete');
    expect(deletes).toHaveLength(2);
  });

  it('leaves pods Pending with the scheduler’s message when no node fits', () => {
    const decision = decideOne(
      load(pod('big', 'busybox:1', '16')),
      emptySnapshot(),
      [node('node-a', true, 2), node('node-b', false)],
      NOW,
      {
        random: seeded(6),
      },
    );
    expect(decision.next.pods.get('default/big')?.node).toBeUndefined();
    expect(assignedKeys(decision.assignments)).toEqual([]);
    const pending = decision.reports.find((r) => r.action === 'pending');
    expect(pending?.ref).toEqual({ kind: 'Pod', namespace: 'default', name: 'big' });
    expect(pending?.reason).toMatch(/^0\/2 nodes are available: .*Insufficient cpu/);
    expect(pending?.reason).toMatch(/not-ready|not ready/);
  });

  it('binds a Pending pod once a node comes', () => {
    const objects = load(pod('solo'));
    const first = decideOne(objects, emptySnapshot(), [], NOW, { random: seeded(7) });
    expect(first.next.pods.get('default/solo')?.node).toBeUndefined();
    const second = decideOne(objects, first.next, [node('node-a')], NOW + 1000, {
      random: seeded(8),
    });
    expect(second.next.pods.get('default/solo')?.node).toBe('node-a');
    expect(assignedKeys(second.assignments)).toEqual(['default/solo']);
  });

  it('deletes a bare pod that left git and cascades an RC that left git to its pods', () => {
    const first = decideOne(
      load(`${rc(2)}---\n${pod('solo')}---\n${pod('keep')}`),
      emptySnapshot(),
      TWO_NODES,
      NOW,
      {
        random: seeded(9),
      },
    );
    expect(first.next.pods.size).toBe(4);
    const second = decideOne(load(pod('keep')), first.next, TWO_NODES, NOW + 1000, {
      random: seeded(10),
    });
    expect([...second.next.pods.keys()]).toEqual(['default/keep']);
    expect(inventoryOf(second.next, 'app')).toEqual(new Set(['Pod/default/keep']));
    expect(assignedKeys(second.assignments)).toEqual(['default/keep']);
    // Both nodes had pods: both are told their new (maybe empty) set.
    expect([...second.assignments.keys()].sort()).toEqual(['node-a', 'node-b']);
  });

  it('refuses a source that would delete everything and changes nothing', () => {
    const first = decideOne(load(rc(2)), emptySnapshot(), TWO_NODES, NOW, { random: seeded(11) });
    const second = decideOne([], first.next, TWO_NODES, NOW + 1000, { random: seeded(12) });
    expect(second.refused?.code).toBe('PLAN_DELETES_EVERYTHING');
    expect(second.next).toBe(first.next);
    expect(assignedKeys(second.assignments).sort()).toEqual(assignedKeys(first.assignments).sort());
    const allowed = decideOne([], first.next, TWO_NODES, NOW + 1000, {
      random: seeded(12),
      allowEmpty: true,
    });
    expect(allowed.next.pods.size).toBe(0);
  });

  it('replaces a bare pod whose spec changed: a new uid, scheduled again', () => {
    const first = decideOne(load(pod('solo')), emptySnapshot(), TWO_NODES, NOW, {
      random: seeded(13),
    });
    const before = first.next.pods.get('default/solo');
    const second = decideOne(load(pod('solo', 'busybox:2')), first.next, TWO_NODES, NOW + 1000, {
      random: seeded(14),
    });
    const after = second.next.pods.get('default/solo');
    expect(after?.pod.spec.containers[0]?.image).toBe('busybox:2');
    expect(after?.pod.metadata.uid).not.toBe(before?.pod.metadata.uid);
    expect(after?.node).toBeDefined();
    expect(assignedKeys(second.assignments)).toEqual(['default/solo']);
  });

  it('replaces RC pods its agent reports Failed', () => {
    const objects = load(rc(2));
    const first = decideOne(objects, emptySnapshot(), TWO_NODES, NOW, { random: seeded(15) });
    const reported = TWO_NODES.map((view) => ({
      ...view,
      pods: [...first.next.pods.values()]
        .filter((stored) => stored.node === view.name)
        .map((stored) => ({
          namespace: 'default',
          name: stored.pod.metadata.name ?? '',
          uid: stored.pod.metadata.uid ?? '',
          status: { phase: 'Failed', conditions: [] },
        })),
    }));
    const second = decideOne(objects, first.next, reported, NOW + 1000, { random: seeded(16) });
    const creates = second.reports.filter((r) => r.ref.kind === 'Pod' && r.action === 'create');
    expect(creates).toHaveLength(2);
  });

  it('never puts one pod in two nodes’ sets over a run of passes', () => {
    const random = seeded(17);
    let state: EngineSnapshot = emptySnapshot();
    const counts = [3, 5, 1, 4, 0, 2];
    for (const [index, replicas] of counts.entries()) {
      const nodes = index % 2 === 0 ? TWO_NODES : [node('node-a'), node('node-b'), node('node-c')];
      const decision = decideOne(
        load(`${rc(replicas)}---\n${pod('solo')}`),
        state,
        nodes,
        NOW + index,
        { random },
      );
      const keys = assignedKeys(decision.assignments);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys).toHaveLength(replicas + 1);
      state = decision.next;
    }
  });

  it('does not let a bare pod take the name of an RC’s pod, and creates it once the name is free', () => {
    const first = decideOne(load(rc(1)), emptySnapshot(), TWO_NODES, NOW, { random: seeded(18) });
    const [taken] = [...first.next.pods.values()];
    const name = taken?.pod.metadata.name ?? '';
    const second = decideOne(load(`${rc(1)}---\n${pod(name)}`), first.next, TWO_NODES, NOW + 1, {
      random: seeded(19),
    });
    expect(second.next.pods.get(`default/${name}`)?.pod.metadata.uid).toBe(taken?.pod.metadata.uid);
    expect(inventoryOf(second.next, 'app').has(`Pod/default/${name}`)).toBe(false);
    expect(second.reports.find((r) => r.ref.name === name)?.action).toBe('pending');
    const third = decideOne(load(`${rc(0)}---\n${pod(name)}`), second.next, TWO_NODES, NOW + 2, {
      random: seeded(20),
    });
    const fourth = decideOne(load(`${rc(0)}---\n${pod(name)}`), third.next, TWO_NODES, NOW + 3, {
      random: seeded(21),
    });
    const bare = fourth.next.pods.get(`default/${name}`);
    expect(bare?.pod.metadata.ownerReferences).toBeUndefined();
    expect(inventoryOf(fourth.next, 'app').has(`Pod/default/${name}`)).toBe(true);
  });

  it('puts a replaced pod on its old node, though another ranks first, while it fits there', () => {
    const first = decideOne(load(pod('solo')), emptySnapshot(), TWO_NODES, NOW, {
      random: seeded(22),
    });
    const stored = first.next.pods.get('default/solo');
    expect(stored?.node).toBe('node-a');
    if (stored === undefined) return;
    // Moved by hand to node-b: node-a (first by name, equally free) would win a fresh pick.
    const onB = {
      ...first.next,
      pods: new Map([
        [
          'default/solo',
          {
            pod: { ...stored.pod, spec: { ...stored.pod.spec, nodeName: 'node-b' } },
            node: 'node-b',
          },
        ],
      ]),
    };
    const replaced = decideOne(load(pod('solo', 'busybox:2')), onB, TWO_NODES, NOW + 1, {
      random: seeded(23),
    });
    expect(replaced.next.pods.get('default/solo')?.node).toBe('node-b');
    // It no longer fits node-b (which has room for 1 cpu): scheduled like any other pod.
    const small = [node('node-a'), node('node-b', true, 1)];
    const moved = decideOne(load(pod('solo', 'busybox:2', '1500m')), onB, small, NOW + 1, {
      random: seeded(24),
    });
    expect(moved.next.pods.get('default/solo')?.node).toBe('node-a');
  });

  it('records a Service (inventory and report) without making pods for it', () => {
    const service = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`;
    const decision = decideOne(load(service), emptySnapshot(), TWO_NODES, NOW, {
      random: seeded(25),
    });
    expect(inventoryOf(decision.next, 'app')).toEqual(new Set(['Service/default/web']));
    expect(decision.next.apps.get('app')?.map((object) => object.kind)).toEqual(['Service']);
    expect(decision.next.pods.size).toBe(0);
    expect(decision.reports).toEqual([
      {
        app: 'app',
        ref: { kind: 'Service', namespace: 'default', name: 'web' },
        action: 'create',
        reason: 'new in git',
      },
    ]);
  });
});
