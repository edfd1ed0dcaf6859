import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PodStatusReport } from '../../operator/agent/lifecycle/status-types.js';
import type {
  ContainerPort,
  Pod,
  Service,
  ServicePort,
} from '../../operator/model/generated/types.js';
import {
  createServicesMemo,
  type HeldAllocation,
  heldServiceViews,
  indexedReadyEndpoints,
  indexPods,
  type PodOnNode,
  readyEndpoints,
  type ServiceToAllocate,
  servicesOutcome,
} from '../../operator/services/index.js';
import { pod, service, status } from './fixtures.js';

// Few namespaces, keys and values, so that selectors often match, partly match and miss.
const namespaceArb = fc.constantFrom(undefined, '', 'default', 'other');
const keyArb = fc.constantFrom('app', 'tier', 'track');
const valueArb = fc.constantFrom('web', 'api', 'canary', '');
const labelsArb = fc.option(fc.dictionary(keyArb, valueArb, { maxKeys: 3 }), { nil: undefined });

const statusArb: fc.Arbitrary<PodStatusReport | undefined> = fc.option(
  fc.record({
    phase: fc.constantFrom('Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'),
    conditions: fc.subarray([
      { type: 'Ready', status: 'True' },
      { type: 'Ready', status: 'False' },
      { type: 'Initialized', status: 'True' },
    ]),
    podIP: fc.option(fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.10', '172.17.0.3', ''), {
      nil: undefined,
    }),
    containerStatuses: fc.constant([]),
  }),
  { nil: undefined },
) as fc.Arbitrary<PodStatusReport | undefined>;

const podArb: fc.Arbitrary<PodOnNode> = fc
  .record({
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    namespace: namespaceArb,
    labels: labelsArb,
    deleting: fc.boolean(),
    ports: fc.subarray<ContainerPort>([
      { name: 'http', containerPort: 8080 },
      { name: 'http', containerPort: 9090, protocol: 'UDP' },
      { name: 'metrics', containerPort: 9100 },
    ]),
    node: fc.constantFrom('n1', 'n2'),
    status: statusArb,
  })
  .map(({ name, namespace, labels, deleting, ports, node, status }) => {
    const made: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        ...(namespace === undefined ? {} : { namespace }),
        ...(labels === undefined ? {} : { labels }),
        ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
      },
      spec: { containers: [{ name: 'main', image: 'berth-test/busybox:1', ports }] },
    };
    return status === undefined ? { pod: made, node } : { pod: made, node, status };
  });

const servicePortArb: fc.Arbitrary<ServicePort> = fc
  .record({
    name: fc.constantFrom('http', 'metrics', 'dns'),
    port: fc.constantFrom(80, 53),
    targetPort: fc.constantFrom(undefined, 8080, '8080', 'http', 'metrics', 'missing'),
    protocol: fc.constantFrom(undefined, 'TCP', 'UDP'),
  })
  .map(({ name, port, targetPort, protocol }) => ({
    name,
    port,
    ...(targetPort === undefined ? {} : { targetPort }),
    ...(protocol === undefined ? {} : { protocol }),
  }));

const serviceArb: fc.Arbitrary<Service> = fc
  .record({
    name: fc.constantFrom('s1', 's2', 's3'),
    namespace: namespaceArb,
    selector: fc.option(fc.dictionary(keyArb, valueArb, { maxKeys: 3 }), { nil: undefined }),
    ports: fc.array(servicePortArb, { maxLength: 2 }),
    publishNotReady: fc.boolean(),
  })
  .map(({ name, namespace, selector, ports, publishNotReady }) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
    spec: {
      ...(selector === undefined ? {} : { selector }),
      ports,
      ...(publishNotReady ? { publishNotReadyAddresses: true } : {}),
    },
  }));

describe('indexed endpoints', () => {
  it('equal the plain computation for any services and pods', () => {
    fc.assert(
      fc.property(
        fc.array(serviceArb, { maxLength: 5 }),
        fc.array(podArb, { maxLength: 12 }),
        (services, pods) => {
          const index = indexPods(pods);
          for (const one of services) {
            expect(indexedReadyEndpoints(one, index)).toEqual(readyEndpoints(one, pods));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('give every view of servicesOutcome and heldServiceViews the plain endpoints', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(serviceArb, { maxLength: 4, selector: (s) => s.metadata.name }),
        fc.array(podArb, { maxLength: 12 }),
        (list, pods) => {
          const services: ServiceToAllocate[] = list.map((one) => ({
            key: `Service/default/${one.metadata.name}`,
            service: { ...one, metadata: { ...one.metadata, namespace: 'default' } },
          }));
          const outcome = servicesOutcome(services, [], pods);
          const held = heldServiceViews(services, outcome.held, pods);
          expect(held.map((view) => view.name)).toEqual(outcome.views.map((view) => view.name));
          for (const views of [outcome.views, held]) {
            for (const view of views) {
              const one = services.find((s) => s.service.metadata.name === view.name);
              expect(one).toBeDefined();
              expect(view.endpoints).toEqual(readyEndpoints(one!.service, pods));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('matches a selector of several labels on all of them, in any namespace only its own', () => {
    const pods: PodOnNode[] = [
      { pod: pod('both', { app: 'web', tier: 'front' }), node: 'n1', status: status('10.0.0.3') },
      { pod: pod('app-only', { app: 'web' }), node: 'n1', status: status('10.0.0.2') },
      {
        pod: pod('elsewhere', { app: 'web', tier: 'front' }, [], 'other'),
        node: 'n2',
        status: status('10.0.0.1'),
      },
    ];
    const web = service('web', { selector: { app: 'web', tier: 'front' } });
    const endpoints = indexedReadyEndpoints(web, indexPods(pods));
    expect(endpoints.map((e) => e.pod)).toEqual(['default/both']);
    expect(endpoints).toEqual(readyEndpoints(web, pods));
  });
});

describe('createServicesMemo', () => {
  const web: ServiceToAllocate = { key: 'Service/default/web', service: service('web') };
  const held: HeldAllocation[] = [
    { kind: 'clusterIP', owner: 'Service/default/web', value: '10.96.0.10' },
  ];
  const webPod = pod('web-1', { app: 'web' });

  it('answers the same inputs with the same outcome, and new inputs anew', () => {
    const memo = createServicesMemo();
    const ready = status('172.17.0.2');
    const first = memo([web], held, [{ pod: webPod, node: 'n1', status: ready }]);
    expect(first).toEqual(
      servicesOutcome([web], held, [{ pod: webPod, node: 'n1', status: ready }]),
    );
    expect(first.views[0]?.endpoints.map((e) => e.ip)).toEqual(['172.17.0.2']);
    // New arrays and wrappers around the same objects: the same outcome object.
    const again = memo(
      [{ ...web }],
      [{ ...held[0]! }],
      [{ pod: webPod, node: 'n1', status: ready }],
    );
    expect(again).toBe(first);

    // A new status (not ready) is another input: computed again.
    const notReady = status('172.17.0.2', { ready: false });
    const next = memo([web], held, [{ pod: webPod, node: 'n1', status: notReady }]);
    expect(next).not.toBe(first);
    expect(next.views[0]?.endpoints).toEqual([]);
    // A service object changed (a new port): computed again.
    const moved = { ...web, service: service('web', { ports: [{ port: 81 }] }) };
    const changed = memo([moved], held, [{ pod: webPod, node: 'n1', status: notReady }]);
    expect(changed.views[0]?.ports.map((p) => p.port)).toEqual([81]);
    // Held values that differ: computed again.
    const other = memo([moved], [{ ...held[0]!, value: '10.96.0.11' }], []);
    expect(other.views[0]?.clusterIP).toBe('10.96.0.11');
  });

  it('computes again when the allocation options differ', () => {
    const memo = createServicesMemo();
    const first = memo([web], [], []);
    const options = { serviceCidr: '10.100.0.0/24', nodePortRange: { min: 30000, max: 32767 } };
    const second = memo([web], [], [], options);
    expect(second).not.toBe(first);
    expect(second.claims[0]?.value).toMatch(/^10\.100\.0\./);
    expect(memo([web], [], [], { ...options })).toBe(second);
  });
});
