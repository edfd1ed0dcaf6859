/**
 * The operator's state as client commands read it: the store, plus, when an operator runs,
 * its nodes' live reports. Without a running operator nodes count as ready when their last
 * heartbeat (as stored) is within the node grace.
 */

import type { PodStatusReport } from '../agent/lifecycle/status-types.js';
import type { NodeEndpoint } from '../api/node-endpoint.js';
import { DEFAULT_NODE_GRACE_MS } from '../engine/decide.js';
import type { Pod, Service } from '../model/generated/types.js';
import { heldServiceViews, type PodOnNode, type ServiceView } from '../services/index.js';
import type { Allocation, PodAssignment, Store } from '../store/store.js';
import type { NodeReadout, OperatorReadout } from './session.js';

/** The parts of the store a readout needs. */
export type StoreReader = Pick<
  Store,
  'inventoryApps' | 'inventory' | 'assignments' | 'nodes' | 'allocations'
>;

export interface LiveParts {
  readonly endpoint: NodeEndpoint;
  /** Pods with containers on the local engine (an embedded agent), if there is one. */
  readonly podsOnEngine?: ReadonlySet<string>;
}

/**
 * The services as the nodes carry them, from what the store holds: allocations as held (no
 * new ones are made by reading), endpoints from the pods' last stored status.
 */
function servicesOfReadout(
  apps: OperatorReadout['apps'],
  allocations: readonly Allocation[],
  assignments: readonly PodAssignment[],
): ServiceView[] {
  const services = apps
    .flatMap((app) => app.objects)
    .filter((entry) => entry.ref.kind === 'Service')
    .map((entry) => ({ key: entry.key, service: entry.applied as Service }))
    // The store holds what was validated; anything else (a hand-edited row) shows no view.
    .filter(({ service }) => typeof service?.spec === 'object' && service.spec !== null);
  if (services.length === 0) return [];
  const pods: PodOnNode[] = assignments
    .filter((assignment) => assignment.node !== '')
    .map((assignment) => {
      const pod = assignment.pod as Pod;
      const status = pod.status as PodStatusReport | undefined;
      return { pod, node: assignment.node, ...(status === undefined ? {} : { status }) };
    });
  return heldServiceViews(services, allocations, pods);
}

export function readOperatorState(
  store: StoreReader,
  now: number,
  live?: LiveParts,
  nodeGraceMs = DEFAULT_NODE_GRACE_MS,
): OperatorReadout {
  const apps = store.inventoryApps().map((name) => ({ name, objects: store.inventory(name) }));
  const nodes = new Map<string, NodeReadout>();
  for (const record of store.nodes()) {
    const heard =
      record.lastHeartbeat === undefined ? Number.NaN : Date.parse(record.lastHeartbeat);
    nodes.set(record.name, { ...record, ready: now - heard < nodeGraceMs, pods: [] });
  }
  const podsOnNodes = new Set<string>(live?.podsOnEngine ?? []);
  for (const record of live?.endpoint.nodes() ?? []) {
    const stored = nodes.get(record.name);
    nodes.set(record.name, {
      name: record.name,
      labels: record.labels,
      capacity: record.capacity,
      ...(record.address === undefined ? {} : { address: record.address }),
      registeredAt: stored?.registeredAt ?? new Date(record.registeredAt).toISOString(),
      lastHeartbeat: new Date(record.lastHeartbeatAt).toISOString(),
      ready:
        live?.endpoint.isReady(record.name) === true && now - record.lastHeartbeatAt < nodeGraceMs,
      pods: record.pods,
    });
    for (const pod of record.pods) podsOnNodes.add(`${pod.namespace}/${pod.name}`);
  }
  const assignments = store.assignments();
  return {
    apps,
    assignments,
    services: servicesOfReadout(apps, store.allocations(), assignments),
    nodes: [...nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    allocations: store.allocations(),
    podsOnNodes: [...podsOnNodes].sort(),
  };
}
