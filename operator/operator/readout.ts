/**
 * The operator's state as client commands read it: the store, plus, when an operator runs,
 * its nodes' live reports. Without a running operator nodes count as ready when their last
 * heartbeat (as stored) is within the node grace.
 */
import type { NodeEndpoint } from '../api/node-endpoint.js';
import { DEFAULT_NODE_GRACE_MS } from '../engine/decide.js';
import type { Store } from '../store/store.js';
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
  return {
    apps,
    assignments: store.assignments(),
    nodes: [...nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    allocations: store.allocations(),
    podsOnNodes: [...podsOnNodes].sort(),
  };
}
