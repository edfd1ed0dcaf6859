/**
 * The batch scheduler: the same answers as `scheduleReference`, without running every filter
 * on every node for every pod.
 *
 * Indexes, kept up to date as pods are placed:
 * - candidate sets: the ready nodes matching one nodeSelector, built once per distinct
 *   selector, so readiness and the selector cost nothing per pod;
 * - within a set, one bitset per least-requested score (0..100) over the set's nodes in name
 *   order: walking the scores from high to low and the bits from low to high visits nodes in
 *   rank order (freer first, then by name), and a placement moves one node between two buckets;
 * - per set and owner, how many members hold 1, 2, ... of the owner's pods, which gives the
 *   fewest any member holds: the walk stops at the first feasible node holding that many;
 * - per set, the pod shapes (requests and host ports) found unschedulable. Placements only
 *   take room and ports, so such a shape stays unschedulable for the rest of the batch; its
 *   message is kept per node and brought up to date from the log of nodes placed on since.
 * The walk keeps the first feasible node of each smaller owner count, so the winner is the
 * one the plain definition ranks first (fewest of the owner, then freer, then by name).
 */
import {
  countReasons,
  cpuFits,
  firstRejection,
  formatUnschedulable,
  hostPortsFilter,
  hostPortsFree,
  matchesNodeSelector,
  memoryFits,
  REASON_NODE_NAME,
  REASON_NODE_SELECTOR,
  REASON_NOT_READY,
  resourcesFitFilter,
} from './filters.js';
import { addPod, buildNodeStates, type NodeState, portKey } from './node-state.js';
import { leastRequested, MAX_NODE_SCORE, ownerSpread } from './scores.js';
import type { NodeInfo, Placement, PodToPlace } from './types.js';

const BUCKETS = MAX_NODE_SCORE + 1;

/** How the members of one set hold one owner's pods. */
interface OwnerHistogram {
  /** Members holding at least one. */
  occupied: number;
  /** byCount[c]: members holding exactly c (c ≥ 1). */
  readonly byCount: number[];
}

/** A pod shape no member of a set accepts, with each member's reasons as of `logPosition`. */
interface UnschedulableShape {
  readonly reasons: (readonly string[] | undefined)[];
  readonly counts: Map<string, number>;
  logPosition: number;
}

interface CandidateSet {
  /** Node indices (name order) of the set's members, ascending. */
  readonly members: Int32Array;
  /** Bit position in the set per node index, -1 for non-members. */
  readonly bitOf: Int32Array;
  readonly words: number;
  /** BUCKETS bitsets of `words` words each, flattened: bucket b starts at b × words. */
  readonly buckets: Uint32Array;
  readonly bucketSizes: Int32Array;
  readonly owners: Map<string, OwnerHistogram>;
  readonly unschedulable: Map<string, UnschedulableShape>;
}

function selectorKey(selector: Readonly<Record<string, string>> | undefined): string {
  if (selector === undefined) return '';
  const keys = Object.keys(selector);
  if (keys.length === 0) return '';
  keys.sort();
  // JSON keeps keys and values apart whatever characters they hold.
  return JSON.stringify(keys.map((key) => [key, selector[key]]));
}

/** What decides feasibility on a set member: requests and host ports. */
function shapeKey(pod: PodToPlace): string {
  let key = `${pod.cpuMillis}/${pod.memoryBytes}`;
  for (const port of pod.hostPorts) key += ` ${portKey(port)}@${port.hostIP}`;
  return key;
}

/** The rejection of a ready, selector-matching node: the filters that change as pods land. */
function memberRejection(pod: PodToPlace, node: NodeState): readonly string[] | undefined {
  return hostPortsFilter.check(pod, node) ?? resourcesFitFilter.check(pod, node);
}

class BatchScheduler {
  private readonly states: NodeState[];
  private readonly byName = new Map<string, NodeState[]>();
  private readonly readyCount: number;
  private readonly scores: Int32Array;
  private readonly setByKey = new Map<string, CandidateSet>();
  /** Same selector object, same set: saves building the key for pods of one template. */
  private readonly setBySelector = new WeakMap<object, CandidateSet>();
  private readonly setsOfNode: CandidateSet[][];
  /** Node indices in placement order, to bring kept messages up to date. */
  private readonly placementLog: number[] = [];

  constructor(nodes: readonly NodeInfo[]) {
    this.states = buildNodeStates(nodes);
    this.scores = new Int32Array(this.states.length);
    this.setsOfNode = this.states.map(() => []);
    let ready = 0;
    for (const node of this.states) {
      const named = this.byName.get(node.info.name);
      if (named === undefined) this.byName.set(node.info.name, [node]);
      else named.push(node);
      this.scores[node.index] = leastRequested.score(node);
      if (node.info.ready) ready += 1;
    }
    this.readyCount = ready;
  }

  place(pod: PodToPlace): Placement {
    if (pod.nodeName !== undefined) return this.placePinned(pod, pod.nodeName);
    const set = this.candidateSet(pod);
    const shape = set.unschedulable.size > 0 ? shapeKey(pod) : undefined;
    const known = shape === undefined ? undefined : set.unschedulable.get(shape);
    const chosen = known === undefined ? this.bestInSet(pod, set) : undefined;
    if (chosen === undefined) {
      return { pod, unschedulable: this.setMessage(pod, set, known, shape ?? shapeKey(pod)) };
    }
    this.commit(pod, chosen);
    return { pod, node: chosen.info.name };
  }

  /**
   * A pinned pod has one candidate, its node. Every other node fails the node-name filter,
   * which comes first, so only the named node's reasons need checking.
   */
  private placePinned(pod: PodToPlace, nodeName: string): Placement {
    const named = this.byName.get(nodeName) ?? [];
    const counts = new Map<string, number>([[REASON_NODE_NAME, this.states.length - named.length]]);
    let chosen: NodeState | undefined;
    for (const node of named) {
      const rejection = firstRejection(pod, node);
      if (rejection === undefined) chosen ??= node;
      else countReasons(counts, rejection);
    }
    // Same-named nodes are ranked as any others; the first by name wins ties.
    for (const node of named) {
      if (chosen !== undefined && node !== chosen && firstRejection(pod, node) === undefined) {
        if (this.ranksBefore(pod, node, chosen)) chosen = node;
      }
    }
    if (chosen === undefined) {
      return { pod, unschedulable: formatUnschedulable(this.states.length, counts) };
    }
    this.commit(pod, chosen);
    return { pod, node: chosen.info.name };
  }

  private ranksBefore(pod: PodToPlace, a: NodeState, b: NodeState): boolean {
    const spreadA = ownerSpread.count(pod, a);
    const spreadB = ownerSpread.count(pod, b);
    if (spreadA !== spreadB) return spreadA < spreadB;
    const scoreA = this.scores[a.index] ?? 0;
    const scoreB = this.scores[b.index] ?? 0;
    if (scoreA !== scoreB) return scoreA > scoreB;
    return a.index < b.index;
  }

  /**
   * Not-ready nodes and ready nodes outside the set have fixed reasons; members' reasons are
   * kept per shape and refreshed only for members placed on since they were last looked at.
   */
  private setMessage(
    pod: PodToPlace,
    set: CandidateSet,
    known: UnschedulableShape | undefined,
    shape: string,
  ): string {
    let entry = known;
    if (entry === undefined) {
      const reasons: (readonly string[] | undefined)[] = [];
      const counts = new Map<string, number>();
      for (const nodeIndex of set.members) {
        const node = this.states[nodeIndex];
        const rejection = node === undefined ? undefined : memberRejection(pod, node);
        reasons.push(rejection);
        countReasons(counts, rejection);
      }
      entry = { reasons, counts, logPosition: this.placementLog.length };
      set.unschedulable.set(shape, entry);
    } else {
      for (let at = entry.logPosition; at < this.placementLog.length; at += 1) {
        const nodeIndex = this.placementLog[at] ?? -1;
        const bit = set.bitOf[nodeIndex] ?? -1;
        const node = this.states[nodeIndex];
        if (bit < 0 || node === undefined) continue;
        const rejection = memberRejection(pod, node);
        countReasons(entry.counts, entry.reasons[bit], -1);
        countReasons(entry.counts, rejection);
        entry.reasons[bit] = rejection;
      }
      entry.logPosition = this.placementLog.length;
    }
    const counts = new Map(entry.counts);
    countReasons(counts, [REASON_NOT_READY], this.states.length - this.readyCount);
    countReasons(counts, [REASON_NODE_SELECTOR], this.readyCount - set.members.length);
    return formatUnschedulable(this.states.length, counts);
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
      owners: new Map(),
      unschedulable: new Map(),
    };
    members.forEach((nodeIndex, bit) => {
      set.bitOf[nodeIndex] = bit;
      this.setBit(set, this.scores[nodeIndex] ?? 0, bit);
      this.setsOfNode[nodeIndex]?.push(set);
      for (const [owner, count] of this.states[nodeIndex]?.owners ?? []) {
        this.countOwner(set, owner, 0, count);
      }
    });
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

  /** A member's count of the owner's pods went from `before` to `after`. */
  private countOwner(set: CandidateSet, owner: string, before: number, after: number): void {
    let histogram = set.owners.get(owner);
    if (histogram === undefined) {
      histogram = { occupied: 0, byCount: [] };
      set.owners.set(owner, histogram);
    }
    if (before === 0) histogram.occupied += 1;
    else histogram.byCount[before] = (histogram.byCount[before] ?? 0) - 1;
    histogram.byCount[after] = (histogram.byCount[after] ?? 0) + 1;
  }

  /** The fewest pods of the pod's owner any member holds. */
  private ownerFloor(pod: PodToPlace, set: CandidateSet): number {
    if (pod.owner === undefined) return 0;
    const histogram = set.owners.get(pod.owner);
    if (histogram === undefined || histogram.occupied < set.members.length) return 0;
    const { byCount } = histogram;
    for (let count = 1; count < byCount.length; count += 1) {
      if ((byCount[count] ?? 0) > 0) return count;
    }
    return 0;
  }

  private bestInSet(pod: PodToPlace, set: CandidateSet): NodeState | undefined {
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
    const sets = this.setsOfNode[node.index] ?? [];
    if (pod.owner !== undefined) {
      const before = node.owners.get(pod.owner) ?? 0;
      for (const set of sets) this.countOwner(set, pod.owner, before, before + 1);
    }
    addPod(node, pod);
    this.placementLog.push(node.index);
    const before = this.scores[node.index] ?? 0;
    const after = leastRequested.score(node);
    if (before === after) return;
    this.scores[node.index] = after;
    for (const set of sets) {
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
