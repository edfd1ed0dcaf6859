/**
 * The batch scheduler: the same answers as `scheduleReference`, without scoring every node
 * for every pod.
 *
 * Indexes, kept up to date as pods are placed:
 * - candidate sets: the ready nodes matching one nodeSelector, built once per distinct
 *   selector, so the node-selector filter costs nothing per pod;
 * - within a set, one bitset per least-requested score (0..100) over the set's nodes in name
 *   order: walking the scores from high to low and the bits from low to high visits nodes in
 *   rank order (freer first, then by name), and a placement moves one node between two buckets;
 * - per owner, the number of nodes holding one of its pods: while that is below the set's
 *   size some node has none, so the walk stops at the first feasible node without one.
 * The walk keeps the first feasible node of each smaller owner count, so the winner is the
 * one the plain definition ranks first (fewest of the owner, then freer, then by name).
 */
import {
  cpuFits,
  firstRejection,
  hostPortsFree,
  matchesNodeSelector,
  memoryFits,
  unschedulableMessage,
} from './filters.js';
import { addPod, buildNodeStates, type NodeState } from './node-state.js';
import { leastRequested, MAX_NODE_SCORE, ownerSpread } from './scores.js';
import type { NodeInfo, Placement, PodToPlace } from './types.js';

const BUCKETS = MAX_NODE_SCORE + 1;

interface CandidateSet {
  /** Node indices (name order) of the set's members, ascending. */
  readonly members: Int32Array;
  /** Bit position in the set per node index, -1 for non-members. */
  readonly bitOf: Int32Array;
  readonly words: number;
  /** BUCKETS bitsets of `words` words each, flattened: bucket b starts at b × words. */
  readonly buckets: Uint32Array;
  readonly bucketSizes: Int32Array;
}

function selectorKey(selector: Readonly<Record<string, string>> | undefined): string {
  if (selector === undefined) return '';
  const keys = Object.keys(selector);
  if (keys.length === 0) return '';
  keys.sort();
  // JSON keeps keys and values apart whatever characters they hold.
  return JSON.stringify(keys.map((key) => [key, selector[key]]));
}

class BatchScheduler {
  private readonly states: NodeState[];
  private readonly byName = new Map<string, NodeState>();
  private readonly scores: Int32Array;
  private readonly sets: CandidateSet[] = [];
  private readonly setByKey = new Map<string, CandidateSet>();
  /** Same selector object, same set: saves building the key for pods of one template. */
  private readonly setBySelector = new WeakMap<object, CandidateSet>();
  private readonly setsOfNode: CandidateSet[][];
  /** Per owner, how many nodes hold at least one of its pods. */
  private readonly ownerNodeCounts = new Map<string, number>();

  constructor(nodes: readonly NodeInfo[]) {
    this.states = buildNodeStates(nodes);
    this.scores = new Int32Array(this.states.length);
    this.setsOfNode = this.states.map(() => []);
    for (const node of this.states) {
      if (!this.byName.has(node.info.name)) this.byName.set(node.info.name, node);
      this.scores[node.index] = leastRequested.score(node);
      for (const owner of node.owners.keys()) {
        this.ownerNodeCounts.set(owner, (this.ownerNodeCounts.get(owner) ?? 0) + 1);
      }
    }
  }

  place(pod: PodToPlace): Placement {
    const chosen = pod.nodeName === undefined ? this.bestInSet(pod) : this.pinned(pod);
    if (chosen === undefined) {
      return { pod, unschedulable: unschedulableMessage(pod, this.states) };
    }
    this.commit(pod, chosen);
    return { pod, node: chosen.info.name };
  }

  /** A pinned pod has one candidate: its node, if every filter passes there. */
  private pinned(pod: PodToPlace): NodeState | undefined {
    const node = this.byName.get(pod.nodeName ?? '');
    return node !== undefined && firstRejection(pod, node) === undefined ? node : undefined;
  }

  private candidateSet(pod: PodToPlace): CandidateSet {
    const selector = pod.nodeSelector;
    if (selector !== undefined) {
      const cached = this.setBySelector.get(selector);
      if (cached !== undefined) return cached;
    }
    const key = selectorKey(selector);
    let set = this.setByKey.get(key);
    if (set === undefined) {
      set = this.buildSet(selector);
      this.setByKey.set(key, set);
    }
    if (selector !== undefined) this.setBySelector.set(selector, set);
    return set;
  }

  private buildSet(selector: Readonly<Record<string, string>> | undefined): CandidateSet {
    const memberList: number[] = [];
    for (const node of this.states) {
      if (node.info.ready && matchesNodeSelector(selector, node.info.labels)) {
        memberList.push(node.index);
      }
    }
    const members = Int32Array.from(memberList);
    const words = Math.max(1, Math.ceil(members.length / 32));
    const set: CandidateSet = {
      members,
      bitOf: new Int32Array(this.states.length).fill(-1),
      words,
      buckets: new Uint32Array(BUCKETS * words),
      bucketSizes: new Int32Array(BUCKETS),
    };
    members.forEach((nodeIndex, bit) => {
      set.bitOf[nodeIndex] = bit;
      this.setBit(set, this.scores[nodeIndex] ?? 0, bit);
      this.setsOfNode[nodeIndex]?.push(set);
    });
    this.sets.push(set);
    return set;
  }

  private setBit(set: CandidateSet, score: number, bit: number): void {
    const at = score * set.words + (bit >>> 5);
    set.buckets[at] = (set.buckets[at] ?? 0) | (1 << (bit & 31));
    set.bucketSizes[score] = (set.bucketSizes[score] ?? 0) + 1;
  }

  private clearBit(set: CandidateSet, score: number, bit: number): void {
    const at = score * set.words + (bit >>> 5);
    set.buckets[at] = (set.buckets[at] ?? 0) & ~(1 << (bit & 31));
    set.bucketSizes[score] = (set.bucketSizes[score] ?? 0) - 1;
  }

  /** The fewest pods of the owner any member holds: 0 unless the owner is on as many nodes. */
  private ownerFloor(pod: PodToPlace, set: CandidateSet): number {
    if (pod.owner === undefined) return 0;
    if ((this.ownerNodeCounts.get(pod.owner) ?? 0) < set.members.length) return 0;
    let floor = Number.POSITIVE_INFINITY;
    for (const nodeIndex of set.members) {
      const node = this.states[nodeIndex];
      if (node !== undefined) floor = Math.min(floor, ownerSpread.count(pod, node));
    }
    return floor;
  }

  private bestInSet(pod: PodToPlace): NodeState | undefined {
    const set = this.candidateSet(pod);
    if (set.members.length === 0) return undefined;
    const floor = this.ownerFloor(pod, set);
    const { buckets, words, members } = set;
    let best: NodeState | undefined;
    let bestCount = Number.POSITIVE_INFINITY;
    for (let score = MAX_NODE_SCORE; score >= 0; score -= 1) {
      if ((set.bucketSizes[score] ?? 0) === 0) continue;
      const base = score * words;
      for (let word = 0; word < words; word += 1) {
        let bits = buckets[base + word] ?? 0;
        while (bits !== 0) {
          const low = bits & -bits;
          bits &= bits - 1;
          const nodeIndex = members[(word << 5) + 31 - Math.clz32(low)] ?? -1;
          const node = this.states[nodeIndex];
          if (node === undefined) continue;
          const count = ownerSpread.count(pod, node);
          // Nodes come in rank order, so only a smaller owner count can beat the best so far.
          if (count >= bestCount) continue;
          if (!cpuFits(pod, node) || !memoryFits(pod, node) || !hostPortsFree(pod, node)) continue;
          best = node;
          bestCount = count;
          if (count <= floor) return best;
        }
      }
    }
    return best;
  }

  private commit(pod: PodToPlace, node: NodeState): void {
    if (pod.owner !== undefined && !node.owners.has(pod.owner)) {
      this.ownerNodeCounts.set(pod.owner, (this.ownerNodeCounts.get(pod.owner) ?? 0) + 1);
    }
    addPod(node, pod);
    const before = this.scores[node.index] ?? 0;
    const after = leastRequested.score(node);
    if (before === after) return;
    this.scores[node.index] = after;
    for (const set of this.setsOfNode[node.index] ?? []) {
      const bit = set.bitOf[node.index] ?? -1;
      this.clearBit(set, before, bit);
      this.setBit(set, after, bit);
    }
  }
}

/**
 * Places the pods in order onto the nodes, each pod seeing the placements before it. Pure:
 * the inputs are not modified. Returns one placement per pod, in the pods' order.
 */
export function schedule(pods: readonly PodToPlace[], nodes: readonly NodeInfo[]): Placement[] {
  const scheduler = new BatchScheduler(nodes);
  return pods.map((pod) => scheduler.place(pod));
}
