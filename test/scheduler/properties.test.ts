import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type HostPort,
  isPlaced,
  type NodeInfo,
  type PlacedPod,
  type Placement,
  type PodToPlace,
  REASON_NODE_NAME,
  schedule,
  scheduleReference,
} from '../../operator/scheduler/index.js';

const MI = 1024 ** 2;
const NODE_NAMES = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
const OWNERS = ['rc/a', 'rc/b', 'rc/c'];
const PORTS: HostPort[] = [
  { port: 80, protocol: 'TCP', hostIP: '' },
  { port: 80, protocol: 'UDP', hostIP: '' },
  { port: 53, protocol: 'UDP', hostIP: '10.0.0.1' },
  { port: 53, protocol: 'UDP', hostIP: '10.0.0.2' },
];

const labelsArb = fc.record(
  { zone: fc.constantFrom('a', 'b'), disk: fc.constantFrom('ssd', 'hdd') },
  { requiredKeys: [] },
);
const demandArb = (withPorts: fc.Arbitrary<HostPort[]>) =>
  fc.record({
    cpuMillis: fc.constantFrom(0, 100, 250, 500, 1000),
    memoryBytes: fc.constantFrom(0, 64 * MI, 256 * MI, 512 * MI),
    hostPorts: withPorts,
    owner: fc.option(fc.constantFrom(...OWNERS), { nil: undefined }),
  });
const portsArb = fc.subarray(PORTS, { maxLength: 2 });

/** Nodes with distinct names; existing pods stay within allocatable so over-commit is checkable. */
const nodesArb = (portsOnExisting: fc.Arbitrary<HostPort[]>) =>
  fc
    .uniqueArray(
      fc.record({
        name: fc.constantFrom(...NODE_NAMES),
        ready: fc.constantFrom(true, true, true, false),
        labels: labelsArb,
        cpu: fc.constantFrom(0, 500, 1000, 2000),
        memory: fc.constantFrom(0, 512 * MI, 1024 * MI),
        existing: fc.array(demandArb(portsOnExisting), { maxLength: 2 }),
      }),
      { selector: (n) => n.name, maxLength: 6 },
    )
    .map((raw) =>
      raw.map((n): NodeInfo => {
        let cpu = 0;
        let memory = 0;
        const pods: PlacedPod[] = [];
        for (const p of n.existing) {
          if (cpu + p.cpuMillis > n.cpu || memory + p.memoryBytes > n.memory) continue;
          cpu += p.cpuMillis;
          memory += p.memoryBytes;
          pods.push(p);
        }
        return {
          name: n.name,
          ready: n.ready,
          labels: n.labels,
          allocatable: { cpuMillis: n.cpu, memoryBytes: n.memory },
          pods,
        };
      }),
    );

const podsArb = (ports: fc.Arbitrary<HostPort[]>) =>
  fc
    .array(
      fc.record({
        demand: demandArb(ports),
        nodeName: fc.option(fc.constantFrom(...NODE_NAMES, 'absent'), { nil: undefined, freq: 5 }),
        nodeSelector: fc.option(labelsArb, { nil: undefined, freq: 3 }),
      }),
      { maxLength: 25 },
    )
    .map((raw) =>
      raw.map((p, i): PodToPlace => {
        const { owner, ...demand } = p.demand;
        return {
          key: `pod-${i}`,
          ...demand,
          ...(owner === undefined ? {} : { owner }),
          ...(p.nodeName === undefined ? {} : { nodeName: p.nodeName }),
          ...(p.nodeSelector === undefined ? {} : { nodeSelector: p.nodeSelector }),
        };
      }),
    );

function outcomes(placements: readonly Placement[]): string[] {
  return placements.map((p) =>
    isPlaced(p) ? `${p.pod.key} -> ${p.node}` : `${p.pod.key}: ${p.unschedulable}`,
  );
}

/** Everything each node ends up with: existing pods plus the batch's placements. */
function podsPerNode(
  nodes: readonly NodeInfo[],
  placements: readonly Placement[],
): Map<string, PlacedPod[]> {
  const result = new Map<string, PlacedPod[]>(nodes.map((n) => [n.name, [...n.pods]]));
  for (const placement of placements) {
    if (isPlaced(placement)) result.get(placement.node)?.push(placement.pod);
  }
  return result;
}

const RUNS = { numRuns: 400 };

describe('scheduler properties', () => {
  test('the fast scheduler gives exactly the reference answers', () => {
    fc.assert(
      fc.property(nodesArb(portsArb), podsArb(portsArb), (nodes, pods) => {
        expect(outcomes(schedule(pods, nodes))).toEqual(outcomes(scheduleReference(pods, nodes)));
      }),
      RUNS,
    );
  });

  test('the same on crowded clusters: few nodes, many pods of few owners', () => {
    const crowdedPods = podsArb(portsArb).chain((first) =>
      podsArb(portsArb).map((second) => [
        ...first,
        ...second.map((p, i) => ({ ...p, key: `more-${i}`, owner: OWNERS[i % 2] ?? 'rc/a' })),
      ]),
    );
    fc.assert(
      fc.property(
        nodesArb(portsArb).map((nodes) => nodes.slice(0, 3)),
        crowdedPods,
        (nodes, pods) => {
          expect(outcomes(schedule(pods, nodes))).toEqual(outcomes(scheduleReference(pods, nodes)));
        },
      ),
      RUNS,
    );
  });

  test('never over-commits a node', () => {
    fc.assert(
      fc.property(nodesArb(portsArb), podsArb(portsArb), (nodes, pods) => {
        const perNode = podsPerNode(nodes, schedule(pods, nodes));
        for (const n of nodes) {
          const onNode = perNode.get(n.name) ?? [];
          const cpu = onNode.reduce((sum, p) => sum + p.cpuMillis, 0);
          const memory = onNode.reduce((sum, p) => sum + p.memoryBytes, 0);
          expect(cpu).toBeLessThanOrEqual(n.allocatable.cpuMillis);
          expect(memory).toBeLessThanOrEqual(n.allocatable.memoryBytes);
        }
      }),
      RUNS,
    );
  });

  test('never two pods with the same host port and protocol on a node', () => {
    const wildcardPorts = fc.subarray(PORTS.slice(0, 2), { maxLength: 2 });
    fc.assert(
      fc.property(nodesArb(fc.constant([])), podsArb(wildcardPorts), (nodes, pods) => {
        for (const onNode of podsPerNode(nodes, schedule(pods, nodes)).values()) {
          const bound = onNode.flatMap((p) => p.hostPorts.map((h) => `${h.protocol}/${h.port}`));
          expect(new Set(bound).size).toBe(bound.length);
        }
      }),
      RUNS,
    );
  });

  test('pinned pods land on their node, or are unschedulable saying why', () => {
    fc.assert(
      fc.property(nodesArb(portsArb), podsArb(portsArb), (nodes, pods) => {
        for (const placement of schedule(pods, nodes)) {
          const pinned = placement.pod.nodeName;
          if (pinned === undefined) continue;
          if (isPlaced(placement)) {
            expect(placement.node).toBe(pinned);
          } else if (nodes.length === 0) {
            expect(placement.unschedulable).toBe('no nodes available to schedule pods');
          } else {
            const others = nodes.filter((n) => n.name !== pinned).length;
            if (others > 0)
              expect(placement.unschedulable).toContain(`${others} ${REASON_NODE_NAME}`);
            expect(placement.unschedulable).toMatch(
              new RegExp(`^0/${nodes.length} nodes are available: `),
            );
          }
        }
      }),
      RUNS,
    );
  });

  test("one controller's replicas stay within one of even when every node can take them", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.constantFrom(0, 100, 300), { minLength: 8, maxLength: 8 }),
        (nodeCount, replicas, used) => {
          const nodes: NodeInfo[] = NODE_NAMES.slice(0, nodeCount).map((name, i) => ({
            name,
            ready: true,
            labels: {},
            allocatable: { cpuMillis: 100_000, memoryBytes: 100_000 * MI },
            pods: [{ cpuMillis: used[i] ?? 0, memoryBytes: 0, hostPorts: [] }],
          }));
          const pods = Array.from(
            { length: replicas },
            (_, i): PodToPlace => ({
              key: `web-${i}`,
              owner: 'rc/web',
              cpuMillis: 100,
              memoryBytes: 64 * MI,
              hostPorts: [],
            }),
          );
          const placements = schedule(pods, nodes);
          const counts = nodes.map(
            (n) => placements.filter((p) => isPlaced(p) && p.node === n.name).length,
          );
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200 },
    );
  });
});
