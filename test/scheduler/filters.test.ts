import { describe, expect, test } from 'vitest';
import {
  FILTERS,
  leastRequested,
  type NodeInfo,
  type Placement,
  type PodToPlace,
  schedule,
  scheduleReference,
} from '../../operator/scheduler/index.js';
import { buildNodeStates } from '../../operator/scheduler/node-state.js';
import { GI, node, placed, pod } from './builders.js';

function outcome(placement: Placement | undefined): string {
  if (placement === undefined) return 'missing';
  return 'node' in placement ? placement.node : placement.unschedulable;
}

/** Both schedulers, one pod: they must agree, and the answer is returned. */
function placeOne(target: PodToPlace, nodes: readonly NodeInfo[]): string {
  const fast = outcome(schedule([target], nodes)[0]);
  expect(outcome(scheduleReference([target], nodes)[0])).toBe(fast);
  return fast;
}

describe('each filter, one node at a time', () => {
  const cases: { name: string; pod: PodToPlace; node: NodeInfo; expected: string }[] = [
    { name: 'a fitting pod lands', pod: pod('p'), node: node('n1'), expected: 'n1' },
    {
      name: 'a node that is not ready takes nothing',
      pod: pod('p'),
      node: node('n1', { ready: false }),
      expected:
        '0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.',
    },
    {
      name: 'nodeSelector needs every label with its value',
      pod: pod('p', { nodeSelector: { disk: 'ssd', zone: 'a' } }),
      node: node('n1', { labels: { disk: 'ssd', zone: 'b' } }),
      expected: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
    },
    {
      name: 'nodeSelector matched',
      pod: pod('p', { nodeSelector: { disk: 'ssd' } }),
      node: node('n1', { labels: { disk: 'ssd', zone: 'b' } }),
      expected: 'n1',
    },
    {
      name: 'nodeName elsewhere',
      pod: pod('p', { nodeName: 'n2' }),
      node: node('n1'),
      expected: "0/1 nodes are available: 1 node(s) didn't match the requested node name.",
    },
    {
      name: 'cpu too small',
      pod: pod('p', { cpuMillis: 1500 }),
      node: node('n1', {
        allocatable: { cpuMillis: 2000, memoryBytes: GI },
        pods: [placed({ cpuMillis: 600 })],
      }),
      expected: '0/1 nodes are available: 1 Insufficient cpu.',
    },
    {
      name: 'cpu exactly fits',
      pod: pod('p', { cpuMillis: 1400, memoryBytes: 0 }),
      node: node('n1', {
        allocatable: { cpuMillis: 2000, memoryBytes: GI },
        pods: [placed({ cpuMillis: 600 })],
      }),
      expected: 'n1',
    },
    {
      name: 'both resources short: one node, two reasons',
      pod: pod('p', { cpuMillis: 5000, memoryBytes: 9 * GI }),
      node: node('n1'),
      expected: '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.',
    },
    {
      name: 'a zero request fits an over-committed node',
      pod: pod('p', { cpuMillis: 0, memoryBytes: 0 }),
      node: node('n1', {
        allocatable: { cpuMillis: 100, memoryBytes: 100 },
        pods: [placed({ cpuMillis: 500, memoryBytes: 500 })],
      }),
      expected: 'n1',
    },
    {
      name: 'host port taken on the same protocol',
      pod: pod('p', { hostPorts: [{ port: 80, protocol: 'TCP', hostIP: '' }] }),
      node: node('n1', {
        pods: [placed({ hostPorts: [{ port: 80, protocol: 'TCP', hostIP: '0.0.0.0' }] })],
      }),
      expected:
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
    },
    {
      name: 'same host port on another protocol is free',
      pod: pod('p', { hostPorts: [{ port: 80, protocol: 'UDP', hostIP: '' }] }),
      node: node('n1', {
        pods: [placed({ hostPorts: [{ port: 80, protocol: 'TCP', hostIP: '' }] })],
      }),
      expected: 'n1',
    },
    {
      name: 'same host port on two distinct host IPs is free',
      pod: pod('p', { hostPorts: [{ port: 53, protocol: 'UDP', hostIP: '10.0.0.2' }] }),
      node: node('n1', {
        pods: [placed({ hostPorts: [{ port: 53, protocol: 'UDP', hostIP: '10.0.0.1' }] })],
      }),
      expected: 'n1',
    },
    {
      name: 'a specific host IP clashes with a wildcard bind',
      pod: pod('p', { hostPorts: [{ port: 53, protocol: 'UDP', hostIP: '10.0.0.2' }] }),
      node: node('n1', {
        pods: [placed({ hostPorts: [{ port: 53, protocol: 'UDP', hostIP: '' }] })],
      }),
      expected:
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
    },
  ];
  test.each(cases)('$name', ({ pod: target, node: only, expected }) => {
    expect(placeOne(target, [only])).toBe(expected);
  });
});

describe('the unschedulable message', () => {
  test("counts each node under the first filter that rejects it, entries sorted as kube's", () => {
    const nodes = [
      node('a', { allocatable: { cpuMillis: 4000, memoryBytes: GI } }),
      node('b', { allocatable: { cpuMillis: 4000, memoryBytes: GI } }),
      // Rejected by the selector first, although it is also short of memory.
      node('c', { labels: { zone: 'x' }, allocatable: { cpuMillis: 4000, memoryBytes: GI } }),
    ];
    const target = pod('p', { memoryBytes: 2 * GI, nodeSelector: { zone: 'y' } });
    const labelled = nodes.map((n) => (n.name === 'c' ? n : { ...n, labels: { zone: 'y' } }));
    expect(placeOne(target, labelled)).toBe(
      "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient memory.",
    );
  });

  test('sorts by the whole entry text, so "10 ..." comes before "2 ..."', () => {
    const nodes = [
      ...Array.from({ length: 10 }, (_, i) =>
        node(`small-${i}`, { allocatable: { cpuMillis: 10, memoryBytes: GI } }),
      ),
      node('down-1', { ready: false }),
      node('down-2', { ready: false }),
    ];
    expect(placeOne(pod('p', { memoryBytes: 0 }), nodes)).toBe(
      '0/12 nodes are available: 10 Insufficient cpu, 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.',
    );
  });

  test('a pinned pod: the other nodes count as name mismatches, its own node by its reason', () => {
    const nodes = [node('a'), node('b', { ready: false }), node('c')];
    expect(placeOne(pod('p', { nodeName: 'b' }), nodes)).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) didn't match the requested node name.",
    );
    expect(placeOne(pod('p', { nodeName: 'c' }), nodes)).toBe('c');
  });

  test('a pod shape found unschedulable again reports the nodes as they are now', () => {
    const nodes = [node('a', { allocatable: { cpuMillis: 1000, memoryBytes: GI } })];
    const big = { cpuMillis: 500, memoryBytes: 2 * GI };
    const pods = [
      pod('p1', big),
      pod('filler', { cpuMillis: 800, memoryBytes: 0 }),
      pod('p2', big),
    ];
    const expected = [
      '0/1 nodes are available: 1 Insufficient memory.',
      'a',
      '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.',
    ];
    expect(schedule(pods, nodes).map(outcome)).toEqual(expected);
    expect(scheduleReference(pods, nodes).map(outcome)).toEqual(expected);
  });

  test('no nodes at all', () => {
    expect(placeOne(pod('p'), [])).toBe('no nodes available to schedule pods');
  });
});

describe('ranking', () => {
  test('least requested: the freer node wins, cpu and memory weighted equally', () => {
    const nodes = [
      node('a', { pods: [placed({ cpuMillis: 2000 })] }),
      node('b', { pods: [placed({ memoryBytes: 2 * GI })] }),
    ];
    // a: cpu 50% free, memory 100% → 75; b: cpu 100%, memory 75% → 87.
    const [a, b] = buildNodeStates(nodes);
    expect(a && leastRequested.score(a)).toBe(75);
    expect(b && leastRequested.score(b)).toBe(87);
    expect(placeOne(pod('p'), nodes)).toBe('b');
  });

  test('ties go to the first name, whatever the input order', () => {
    expect(placeOne(pod('p'), [node('zeta'), node('alpha'), node('mid')])).toBe('alpha');
  });

  test('spread beats free space: a fuller node without the owner wins', () => {
    const nodes = [
      node('a', { pods: [placed({ owner: 'rc/web' })] }),
      node('b', { pods: [placed({ cpuMillis: 3000 })] }),
    ];
    expect(placeOne(pod('p', { owner: 'rc/web' }), nodes)).toBe('b');
  });

  test('later pods see earlier placements', () => {
    const nodes = [node('a'), node('b')];
    const pods = [1, 2, 3, 4].map((i) => pod(`p${i}`, { owner: 'rc/web', cpuMillis: 1000 }));
    const names = schedule(pods, nodes).map(outcome);
    expect(names).toEqual(['a', 'b', 'a', 'b']);
    expect(scheduleReference(pods, nodes).map(outcome)).toEqual(names);
  });

  test('every filter and ranker says why it exists', () => {
    for (const unit of [...FILTERS, leastRequested]) expect(unit.why.length).toBeGreaterThan(20);
  });
});
