/**
 * The reconcile loop: keeps the last synced source, and on every pass reads the nodes from the
 * endpoint, asks `decide` what to do, saves the next state and hands each node its whole pod
 * set. Level-triggered: a pass needs no memory of events, so a missed one is repaired by the
 * next (a node change, or the periodic resync).
 */
import type { Clock } from '../agent/lifecycle/clock.js';
import type { NodeEndpoint, NodeRecord } from '../api/node-endpoint.js';
import type { PodReport } from '../api/protocol.js';
import type { RandomSource } from '../controllers/pod-names.js';
import type { ManifestObject } from '../manifests/types.js';
import type { Pod } from '../model/generated/types.js';
import type { PlanOptions } from '../plan/types.js';
import type { AllocationOptions } from '../services/allocations.js';
import type { ServiceView } from '../services/types.js';
import { createServicesMemo } from '../services/views.js';
import {
  type AppDesired,
  type AppRefusal,
  DEFAULT_EVICTION_TIMEOUT_MS,
  DEFAULT_NODE_GRACE_MS,
  type Decision,
  decide,
  type NodeView,
  type ObjectReport,
} from './decide.js';
import { createPlanMemo } from './plan-memo.js';
import { sameJson } from './same-json.js';
import type { EngineSnapshot, EngineState, StoredPod } from './state.js';

export interface EngineOptions {
  readonly endpoint: NodeEndpoint;
  readonly state: EngineState;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** Heartbeat intervals a node may miss and still count as ready. @default 3 */
  readonly missedHeartbeats?: number;
  /**
   * The endpoint's heartbeat interval. Given, the loop of `start` times a pass for the moment a
   * silent node stops counting as ready (`missedHeartbeats` intervals after its last
   * heartbeat); without it, only the periodic resync notices that moment.
   */
  readonly heartbeatIntervalMs?: number;
  /** Silence after which a node is NotReady. @default DEFAULT_NODE_GRACE_MS (40 s) */
  readonly nodeGraceMs?: number;
  /** Silence after which a NotReady node's RC pods are replaced. @default 60 s */
  readonly evictionTimeoutMs?: number;
  /** Where cluster IPs and node ports come from. @default 10.96.0.0/16 and 30000-32767 */
  readonly allocation?: AllocationOptions;
  /** A pass started by `start` that threw; the next pass tries again. @default ignored */
  readonly onError?: (error: unknown) => void;
  /**
   * Told of every pass that ran to its end (a sync's too): how long it took, e.g. for a
   * duration metric. A throwing observer does not fail the pass. @default ignored
   */
  readonly onPass?: (pass: PassReport) => void;
  /** Milliseconds of a monotonic clock, for pass durations. @default performance.now */
  readonly elapsedMs?: () => number;
}

/** What the engine tells its observer of one pass. */
export interface PassReport {
  readonly seconds: number;
  /** True when a plan or an allocation was refused: the pass changed nothing. */
  readonly refused: boolean;
}

export interface SyncResult {
  /** Set when the plan was refused; nothing was changed. */
  readonly refused?: AppRefusal;
  readonly reports: readonly ObjectReport[];
}

export interface Engine {
  /**
   * Makes `objects` what git wants for `app` and runs a pass at once; the reports are the
   * app's. A refused plan changes nothing and the app keeps what it wanted before.
   */
  sync(app: string, objects: readonly ManifestObject[], options?: Partial<PlanOptions>): SyncResult;
  /**
   * One pass over every app: those synced by this engine with what they were given, the others
   * with their last applied objects from the state (so a restarted operator carries on).
   */
  reconcile(): SyncResult;
  /**
   * Drops what `app` was given by `sync` in this process: from the next pass on it stands for
   * its stored objects, as after a restart (none once a removal deleted them all; the objects a
   * `berth.io/prune: disabled` kept otherwise).
   */
  forget(app: string): void;
  /**
   * Runs a pass after every node change that can change a decision (coalesced: a heartbeat
   * that leaves the node as ready as it was does not), when a node's silence crosses the
   * ready window, the grace or the eviction timeout, and `resyncMs` after the last pass;
   * returns a stop function. While no ReplicationController rolls out or waits out
   * minReadySeconds (decisions that turn with time alone), and the last pass did not throw,
   * the resync comes `settledResyncMs` after the last pass instead. @default 5 s, resyncMs
   */
  start(resyncMs?: number, settledResyncMs?: number): () => void;
}

export function createEngine(options: EngineOptions): Engine {
  const { endpoint, state, clock, random } = options;
  const decideTimes = {
    ...(options.allocation === undefined ? {} : { allocation: options.allocation }),
    ...(options.nodeGraceMs === undefined ? {} : { nodeGraceMs: options.nodeGraceMs }),
    ...(options.evictionTimeoutMs === undefined
      ? {}
      : { evictionTimeoutMs: options.evictionTimeoutMs }),
  };
  const desired = new Map<string, AppDesired>();
  /**
   * Per node, the pods last handed to `endpoint.assign` and the version that made. A node whose
   * set holds the same pod objects, with the endpoint still at that version, is not handed its
   * set again: the endpoint would hash every pod only to find the version unchanged.
   */
  const handedOut = new Map<string, HandedOut>();
  /** Passes with the same services and pods share one outcome (and so one list below). */
  const servicesOutcome = createServicesMemo();
  /** Passes with the same objects of an app share its plan. */
  const planChanges = createPlanMemo();
  /** The list last given to `endpoint.setServices`: the same list is not hashed again. */
  let servicesHandedOut: readonly ServiceView[] | undefined;

  const graceMs = options.nodeGraceMs ?? DEFAULT_NODE_GRACE_MS;
  const evictionMs = options.evictionTimeoutMs ?? DEFAULT_EVICTION_TIMEOUT_MS;
  /** The nodes as the last pass saw them: a change since is what calls for a new pass. */
  let lastSeen: ReadonlyMap<string, SeenNode> = new Map();
  /** Told of every pass by the loop of `start`, to time the next. */
  let afterPass: ((settled: boolean) => void) | undefined;
  /** Whether the last pass left nothing that turns with time alone (none yet: false). */
  let lastSettled = false;

  /** How a node stands now, as decide() would judge it (see standingOf there). */
  function standing(record: NodeRecord, now: number): Standing {
    const silentMs = now - record.lastHeartbeatAt;
    if (endpoint.isReady(record.name, options.missedHeartbeats) && silentMs < graceMs) {
      return 'ready';
    }
    return silentMs >= evictionMs ? 'evicting' : 'not-ready';
  }

  /** True when a pass now could decide otherwise about `name` than the last pass did. */
  function turned(name: string, now: number): boolean {
    const record = endpoint.node(name);
    const seen = lastSeen.get(name);
    if (record === undefined || seen === undefined) return record !== seen?.record;
    const before = seen.record;
    // Only a heartbeat came (it moves lastHeartbeatAt alone): the node's standing tells.
    return (
      record.pods !== before.pods ||
      record.labels !== before.labels ||
      record.capacity !== before.capacity ||
      record.address !== before.address ||
      record.registeredAt !== before.registeredAt ||
      record.statusReportedAt !== before.statusReportedAt ||
      standing(record, now) !== seen.standing
    );
  }

  /** The next moment a node's silence turns its standing, if any does. */
  function nextTurn(now: number): number | undefined {
    let next: number | undefined;
    for (const record of endpoint.nodes()) {
      const last = record.lastHeartbeatAt;
      const turns = [last + graceMs, last + evictionMs];
      if (options.heartbeatIntervalMs !== undefined) {
        // isReady holds while the silence is at most the window; it is over 1 ms later.
        turns.push(last + (options.missedHeartbeats ?? 3) * options.heartbeatIntervalMs + 1);
      }
      for (const at of turns) if (at > now && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  function nodes(): NodeView[] {
    const now = clock.now();
    const seen = new Map<string, SeenNode>();
    const views = endpoint.nodes().map((record) => {
      seen.set(record.name, { record, standing: standing(record, now) });
      return {
        name: record.name,
        ready: endpoint.isReady(record.name, options.missedHeartbeats),
        labels: record.labels,
        capacity: record.capacity,
        pods: record.pods,
        // Node grace and eviction in decide() are timed from this (the endpoint's clock).
        lastHeartbeat: record.lastHeartbeatAt,
      };
    });
    lastSeen = seen;
    return views;
  }

  function carryOut(decision: Decision, previous: EngineSnapshot, nodeViews: NodeView[]): void {
    if (decision.refused !== undefined) return;
    // Saved first: an assignment is only ever made from a binding the state holds.
    state.save(withReportedStatus(decision.next, previous, nodeViews));
    if (decision.services !== servicesHandedOut) {
      endpoint.setServices(decision.services);
      servicesHandedOut = decision.services;
    }
    for (const [node, pods] of decision.assignments) {
      if (handedOut.get(node)?.holds(pods, endpoint.assignmentVersion(node)) === true) continue;
      endpoint.assign(node, pods);
      handedOut.set(node, new HandedOut(pods, endpoint.assignmentVersion(node)));
    }
  }

  const elapsedMs = options.elapsedMs ?? (() => performance.now());

  function reconcile(): SyncResult {
    const started = elapsedMs();
    let result: SyncResult;
    try {
      result = runPass();
    } catch (error) {
      lastSettled = false;
      afterPass?.(false);
      throw error;
    }
    lastSettled = !turnsWithTime(result.reports);
    afterPass?.(lastSettled);
    if (options.onPass !== undefined) {
      const seconds = (elapsedMs() - started) / 1000;
      try {
        options.onPass({ seconds, refused: result.refused !== undefined });
      } catch {
        // An observer's trouble is not the pass's.
      }
    }
    return result;
  }

  function runPass(): SyncResult {
    const loaded = state.load();
    // Taken even when there is nothing to decide: the loop compares node changes with it.
    const nodeViews = nodes();
    if (desired.size === 0 && loaded.apps.size === 0 && loaded.pods.size === 0) {
      return { reports: [] };
    }
    // decide sees pods without their reported status: status is not desired state, and the
    // node assignments it builds from these pods stay the same while only status changes.
    const decision = decide(desired, withoutStatus(loaded), nodeViews, clock.now(), {
      random,
      servicesOutcome,
      planChanges,
      ...decideTimes,
    });
    carryOut(decision, loaded, nodeViews);
    return decision.refused === undefined
      ? { reports: decision.reports }
      : { refused: decision.refused, reports: decision.reports };
  }

  return {
    sync(app, objects, plan = {}) {
      const previous = desired.get(app);
      desired.set(app, { objects: [...objects], plan });
      const result = reconcile();
      // A refused source does not become the desired state; the last good one stays.
      if (result.refused !== undefined) {
        if (previous === undefined) desired.delete(app);
        else desired.set(app, previous);
      }
      return { ...result, reports: result.reports.filter((report) => report.app === app) };
    },
    reconcile,
    forget(app) {
      desired.delete(app);
    },
    start(resyncMs = 5000, settledResyncMs = resyncMs) {
      let stopped = false;
      let queued = false;
      let cancelResync = (): void => {};
      let cancelTurn = (): void => {};
      const pass = (): void => {
        queued = false;
        if (stopped) return;
        try {
          reconcile();
        } catch (error) {
          options.onError?.(error);
        }
      };
      const queue = (): void => {
        if (queued || stopped) return;
        queued = true;
        queueMicrotask(pass);
      };
      /** A timer at the next turn of a node's standing; it passes only if one turned. */
      const armTurn = (): void => {
        cancelTurn();
        cancelTurn = () => {};
        const now = clock.now();
        const at = nextTurn(now);
        if (at !== undefined) cancelTurn = clock.setTimer(onTurn, at - now);
      };
      const onTurn = (): void => {
        cancelTurn = () => {};
        if (stopped) return;
        const now = clock.now();
        if (endpoint.nodes().some((record) => turned(record.name, now))) queue();
        else armTurn();
      };
      afterPass = (settled) => {
        if (stopped) return;
        cancelResync();
        cancelResync = clock.setTimer(queue, settled ? settledResyncMs : resyncMs);
        armTurn();
      };
      const unsubscribe = endpoint.onChange((name) => {
        if (!stopped && turned(name, clock.now())) queue();
      });
      cancelResync = clock.setTimer(queue, lastSettled ? settledResyncMs : resyncMs);
      armTurn();
      return () => {
        stopped = true;
        afterPass = undefined;
        unsubscribe();
        cancelResync();
        cancelTurn();
      };
    },
  };
}

/** A node's standing as decide() judges it from its silence. */
type Standing = 'ready' | 'not-ready' | 'evicting';

/** A node as a pass saw it. */
interface SeenNode {
  readonly record: NodeRecord;
  readonly standing: Standing;
}

/**
 * True when a report shows a decision that turns with time alone: a ReplicationController
 * rolling out (its rollout stalls after a deadline) or with ready pods not yet ready for
 * minReadySeconds.
 */
function turnsWithTime(reports: readonly ObjectReport[]): boolean {
  return reports.some(
    ({ replicas }) =>
      replicas !== undefined &&
      (replicas.updatedReplicas < replicas.replicas ||
        replicas.availableReplicas < replicas.readyReplicas),
  );
}

/** The pods last handed to a node, by object, and the assignment version they made. */
class HandedOut {
  private readonly pods: ReadonlySet<Pod>;
  private readonly count: number;
  constructor(
    pods: readonly Pod[],
    private readonly version: string,
  ) {
    this.pods = new Set(pods);
    this.count = pods.length;
  }

  /** True when `pods` are the same objects as handed out and the endpoint is still at it. */
  holds(pods: readonly Pod[], version: string): boolean {
    if (version !== this.version || pods.length !== this.count) return false;
    if (this.pods.size !== this.count) return false;
    return pods.every((pod) => this.pods.has(pod));
  }
}

function podWithoutStatus(pod: Pod): Pod {
  if (!('status' in pod)) return pod;
  const { status: _status, ...rest } = pod;
  return rest;
}

/**
 * Each stored pod's status-less twin, made once per stored object: a pass over a snapshot
 * whose pods did not change hands `decide` the same objects as the pass before, and so the
 * same pod objects reach the node sets.
 */
const bareTwins = new WeakMap<StoredPod, StoredPod>();

function bareOf(stored: StoredPod): StoredPod {
  if (!('status' in stored.pod)) return stored;
  let bare = bareTwins.get(stored);
  if (bare === undefined) {
    bare = { ...stored, pod: podWithoutStatus(stored.pod) };
    bareTwins.set(stored, bare);
  }
  return bare;
}

function withoutStatus(snapshot: EngineSnapshot): EngineSnapshot {
  const pods = new Map<string, StoredPod>();
  for (const [key, stored] of snapshot.pods) pods.set(key, bareOf(stored));
  return { ...snapshot, pods };
}

/** A node's status report by namespace, then name; made once per report. */
const reportIndexes = new WeakMap<readonly PodReport[], Map<string, Map<string, PodReport[]>>>();

function reportIndex(reports: readonly PodReport[]): Map<string, Map<string, PodReport[]>> {
  let index = reportIndexes.get(reports);
  if (index !== undefined) return index;
  index = new Map();
  for (const entry of reports) {
    let byName = index.get(entry.namespace);
    if (byName === undefined) {
      byName = new Map();
      index.set(entry.namespace, byName);
    }
    const same = byName.get(entry.name);
    if (same === undefined) byName.set(entry.name, [entry]);
    else same.push(entry);
  }
  reportIndexes.set(reports, index);
  return index;
}

/** The report for this pod from the node it is bound to, matched by name and (if known) uid. */
function reportedStatus(
  stored: StoredPod,
  nodeViews: ReadonlyMap<string, NodeView>,
): Pod['status'] {
  if (stored.node === undefined) return undefined;
  const view = nodeViews.get(stored.node);
  const { metadata } = stored.pod;
  if (view === undefined || metadata.name === undefined) return undefined;
  const namespace = metadata.namespace ?? 'default';
  const report = reportIndex(view.pods)
    .get(namespace)
    ?.get(metadata.name)
    ?.find((entry) => metadata.uid === undefined || entry.uid === metadata.uid);
  return report?.status;
}

/**
 * Each pod of the next state with the status its node last reported, so readers of the state
 * (`berth get pods`) see it. Without a report (the node has not reported yet, or no longer
 * lists the pod) the status stored before is kept when it belongs to the same pod (same uid
 * and node): an operator restart does not blank every pod until the first report. A pod that
 * `decide` left as it was, with a status alike, stays the very object stored before.
 */
function withReportedStatus(
  next: EngineSnapshot,
  previous: EngineSnapshot,
  nodeViews: readonly NodeView[],
): EngineSnapshot {
  const views = new Map<string, NodeView>();
  for (const view of nodeViews) if (!views.has(view.name)) views.set(view.name, view);
  const pods = new Map<string, StoredPod>();
  for (const [key, stored] of next.pods) {
    const before = previous.pods.get(key);
    const status =
      reportedStatus(stored, views) ??
      (before !== undefined &&
      before.node === stored.node &&
      before.pod.metadata.uid === stored.pod.metadata.uid
        ? before.pod.status
        : undefined);
    if (before !== undefined && bareOf(before) === stored && sameJson(before.pod.status, status)) {
      pods.set(key, before);
      continue;
    }
    const bare = podWithoutStatus(stored.pod);
    const bareStored = bare === stored.pod ? stored : { ...stored, pod: bare };
    if (status === undefined) {
      pods.set(key, bareStored);
      continue;
    }
    const withStatus: StoredPod = { ...stored, pod: { ...bare, status } };
    bareTwins.set(withStatus, bareStored);
    pods.set(key, withStatus);
  }
  return { ...next, pods };
}
