/**
 * The scheduler: a pure function from a node snapshot and pods to placements, filter then
 * rank as kube-scheduler does, with kube's "0/N nodes are available: ..." messages.
 * - `schedule`: the indexed batch scheduler (use this);
 * - `scheduleReference`: the plain definition it is tested against;
 * - `podToPlace`: a pod spec's requests, host ports and placement constraints;
 * - `FILTERS`, `leastRequested`, `ownerSpread`: the units, each with a `why`.
 */
export {
  FILTERS,
  type Filter,
  NO_NODES_MESSAGE,
  REASON_HOST_PORTS,
  REASON_INSUFFICIENT_CPU,
  REASON_INSUFFICIENT_MEMORY,
  REASON_NODE_NAME,
  REASON_NODE_SELECTOR,
  REASON_NOT_READY,
} from './filters.js';
export { hostPortsOf, podToPlace } from './pod-demand.js';
export { scheduleReference } from './reference.js';
export { schedule } from './schedule.js';
export { leastRequested, ownerSpread } from './scores.js';
export type {
  HostPort,
  HostPortProtocol,
  NodeInfo,
  PlacedPod,
  Placement,
  PodDemand,
  PodToPlace,
} from './types.js';
export { isPlaced } from './types.js';
