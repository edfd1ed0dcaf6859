import { describe, expect, it } from 'vitest';
import type { Decision, NodeView } from '../../operator/engine/decide.js';
import { createPlanMemo } from '../../operator/engine/plan-memo.js';
import { type EngineSnapshot, emptySnapshot } from '../../operator/engine/state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import { planChanges } from '../../operator/plan/plan.js';
import { createServicesMemo } from '../../operator/services/views.js';
import { decideOne } from './decide-one.js';

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

const NOW = Date.parse('2026-12-05T12:00:00Z');

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function app(replicas: number, port = 80): ManifestObject[] {
  return load(`apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: ${port}, targetPort: http}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: ${replicas}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox:1
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: web}}
spec:
  containers: [{name: c, image: busybox:1, ports: [{name: http, containerPort: 9090}]}]
`);
}

/** The node's report of every pod bound to it: Running, ready unless named in `notReady`. */
function reports(state: EngineSnapshot, notReady: readonly string[] = []): NodeView['pods'] {
  return [...state.pods.values()]
    .filter((stored) => stored.node === 'n1')
    .map((stored, index) => ({
      namespace: 'default',
      name: stored.pod.metadata.name ?? '',
      uid: stored.pod.metadata.uid ?? '',
      status: {
        phase: 'Running',
        podIP: `172.17.0.${10 + index}`,
        conditions: [
          {
            type: 'Ready',
            status: notReady.includes(stored.pod.metadata.name ?? '') ? 'False' : 'True',
          },
        ],
      },
    }));
}

function node(pods: NodeView['pods']): NodeView {
  return {
    name: 'n1',
    ready: true,
    labels: {},
    capacity: { cpu: 8, memoryBytes: 8 * 2 ** 30 },
    pods,
  };
}

/**
 * One run of passes, each given what the pass before left, with or without the memos; the
 * inputs of each pass (objects, node reports) come from `step`.
 */
function run(
  memo: boolean,
  steps: readonly ((state: EngineSnapshot) => { objects: ManifestObject[]; nodes: NodeView[] })[],
): Decision[] {
  const random = seeded(11);
  const options = memo
    ? { random, servicesOutcome: createServicesMemo(), planChanges: createPlanMemo() }
    : { random };
  const decisions: Decision[] = [];
  let state = emptySnapshot();
  for (const step of steps) {
    const { objects, nodes } = step(state);
    const decision = decideOne(objects, state, nodes, NOW, options);
    decisions.push(decision);
    state = decision.next;
  }
  return decisions;
}

describe('decide with the plan and services memos', () => {
  it('decides as without them, pass after pass, and reuses what did not change', () => {
    const two = app(2);
    let reported: NodeView['pods'] = [];
    const steps = [
      () => ({ objects: two, nodes: [node([])] }),
      (state: EngineSnapshot) => {
        reported = reports(state);
        return { objects: two, nodes: [node(reported)] };
      },
      // Nothing changed: the same objects, the same report.
      () => ({ objects: two, nodes: [node(reported)] }),
      // A pod turns not ready (a new report).
      (state: EngineSnapshot) => ({ objects: two, nodes: [node(reports(state, ['solo']))] }),
      // Git changes: one more replica, another service port.
      (state: EngineSnapshot) => ({ objects: app(3, 81), nodes: [node(reports(state))] }),
    ];
    const plain = run(false, steps);
    const memo = run(true, steps);
    expect(memo).toEqual(plain);

    // The RC adopts solo (its labels match) and makes one more replica.
    expect(plain[1]?.services[0]?.endpoints).toHaveLength(2);
    expect(memo[2]?.services).toBe(memo[1]?.services);
    expect(plain[3]?.services[0]?.endpoints.map((e) => e.pod)).not.toContain('default/solo');
    expect(plain[4]?.services[0]?.ports[0]?.port).toBe(81);
    expect([...(plain[4]?.next.pods.keys() ?? [])]).toHaveLength(3);
  });
});

describe('createPlanMemo', () => {
  const objects = app(1);
  const live = objects.map((o) => ({ kind: o.kind, object: o.object }));
  const inventory = new Set([
    'Service/default/web',
    'ReplicationController/default/web',
    'Pod/default/solo',
  ]);

  it('plans again only when the live objects, inventory or options differ', () => {
    const plan = createPlanMemo();
    const first = plan(objects, live, inventory);
    expect(first).toEqual(planChanges(objects, live, inventory));
    expect(plan(objects, [...live], new Set(inventory))).toBe(first);

    const changed = live.map((entry, index) =>
      index === 0 ? { ...entry, object: { ...entry.object } } : entry,
    );
    expect(plan(objects, changed, inventory)).not.toBe(first);
    const fewer = new Set([...inventory].slice(1));
    const planned = plan(objects, live, fewer);
    expect(planned).toEqual(planChanges(objects, live, fewer));
    expect(plan(objects, live, fewer, { prune: false })).not.toBe(planned);
    // Git empty: the options decide (a refusal unless allowed); each is remembered.
    const none: ManifestObject[] = [];
    const refused = plan(none, live, inventory);
    expect(refused).toEqual(planChanges(none, live, inventory));
    expect('refused' in refused).toBe(true);
    const allowed = plan(none, live, inventory, { allowEmpty: true });
    expect('refused' in allowed).toBe(false);
    expect(plan(none, live, inventory, { allowEmpty: true })).toBe(allowed);
    // An explicit undefined is not an absent option: it overrides the default.
    const explicit = plan(none, live, inventory, { allowEmpty: true, prune: undefined });
    expect(explicit).not.toBe(allowed);
    expect(explicit).toEqual(
      planChanges(none, live, inventory, { allowEmpty: true, prune: undefined }),
    );
  });
});
