/**
 * The plain definition of scheduling: for each pod, run every filter on every node, rank the
 * survivors, take the best. O(pods × nodes); the fast scheduler must give the same answers
 * (property-tested), and the benchmark measures it as its baseline.
 */
import { firstRejection, unschedulableMessage } from './filters.js';
import { addPod, buildNodeStates, type NodeState } from './node-state.js';
import { leastRequested, ownerSpread } from './scores.js';
import type { NodeInfo, Placement, PodToPlace } from './types.js';

/** True when `a` ranks before `b` for this pod: fewer of its owner, then freer, then by name. */
function ranksBefore(pod: PodToPlace, a: NodeState, b: NodeState): boolean {
  const spreadA = ownerSpread.count(pod, a);
  const spreadB = ownerSpread.count(pod, b);
  if (spreadA !== spreadB) return spreadA < spreadB;
  const scoreA = leastRequested.score(a);
  const scoreB = leastRequested.score(b);
  if (scoreA !== scoreB) return scoreA > scoreB;
  return a.index < b.index;
}

export function scheduleReference(
  pods: readonly PodToPlace[],
  nodes: readonly NodeInfo[],
): Placement[] {
  const states = buildNodeStates(nodes);
  return pods.map((pod): Placement => {
    let best: NodeState | undefined;
    for (const node of states) {
      if (firstRejection(pod, node) !== undefined) continue;
      if (best === undefined || ranksBefore(pod, node, best)) best = node;
    }
    if (best === undefined) return { pod, unschedulable: unschedulableMessage(pod, states) };
    addPod(best, pod);
    return { pod, node: best.info.name };
  });
}
