/**
 * Rankers for the nodes that passed every filter. They combine lexicographically, not as a
 * weighted sum: spread first (fewest pods of the pod's controller), then least requested
 * (most free), then node name. Spread first means a controller's replicas never stack on one
 * node while a feasible node without one exists; a strict order also lets the fast scheduler
 * index nodes instead of scoring all of them for every pod.
 */
import type { NodeState } from './node-state.js';
import type { PodDemand } from './types.js';

export const MAX_NODE_SCORE = 100;

/** kube's leastRequested for one resource: the free share in whole percent, 0 when over-committed. */
export function freePercent(allocatable: number, requested: number): number {
  if (allocatable <= 0 || requested > allocatable) return 0;
  return Math.floor(((allocatable - requested) * MAX_NODE_SCORE) / allocatable);
}

export const leastRequested = {
  name: 'LeastRequested',
  why: 'placing on the emptiest node (cpu and memory weighted equally) keeps headroom everywhere and spreads load',
  /**
   * 0..100 from the node's requests before this pod. Unlike kube, the pod's own request is
   * not added first: a score that does not depend on the pod lets nodes be kept in score
   * buckets across the batch.
   */
  score(node: NodeState): number {
    const { cpuMillis, memoryBytes } = node.info.allocatable;
    return Math.floor(
      (freePercent(cpuMillis, node.cpuRequested) + freePercent(memoryBytes, node.memoryRequested)) /
        2,
    );
  },
};

export const ownerSpread = {
  name: 'OwnerSpread',
  why: "replicas of one controller on different nodes survive a node's loss; fewer of the same owner ranks first",
  /** Pods of the pod's owner already on the node (0 for pods without an owner). */
  count(pod: PodDemand, node: NodeState): number {
    return pod.owner === undefined ? 0 : (node.owners.get(pod.owner) ?? 0);
  },
};
