/**
 * The engine's decision, pure: desired objects, the remembered state, the nodes (with their
 * agents' status reports) and `now` in; the next state, the whole pod set per node and a
 * report per object out. The loop in engine.ts carries it out; nothing here does I/O.
 *
 * Pods are keyed by `namespace/name` and bound to at most one node, and the per-node sets are
 * built from those bindings, so no pod is ever in two nodes' sets. A bound pod is never moved:
 * only unbound pods (new, or replaced because their spec changed) are scheduled.
 */
import type { PodStatusReport } from '../agent/lifecycle/status-types.js';
import type { PodReport } from '../api/protocol.js';
import { type LivePod, livePodFrom } from '../controllers/live-pod.js';
import type { RandomSource } from '../controllers/pod-names.js';
import type { RcStatus } from '../controllers/replication.js';
import { reconcileReplicationControllers } from '../controllers/replication-set.js';
import { DEFAULT_NAMESPACE } from '../manifests/defaults.js';
import type {
  OwnerReference,
  Pod,
  ReplicationController,
  Service,
} from '../model/generated/types.js';
import type { Origin } from '../model/problem.js';
import {
  type DesiredObject,
  isPlanRefusal,
  type LiveObject,
  planChanges,
  refKey,
} from '../plan/plan.js';
import type { ChangeAction, ObjectRef, Plan, PlanOptions, PlanRefusal } from '../plan/types.js';
import { podToPlace } from '../scheduler/pod-demand.js';
import { schedule } from '../scheduler/schedule.js';
import { isPlaced, type NodeInfo, type PodToPlace } from '../scheduler/types.js';
import {
  type AllocationOptions,
  formatAllocationProblem,
  type PodOnNode,
  SERVICE_ENV_ANNOTATION,
  type ServicesOutcomeOf,
  type ServiceToAllocate,
  type ServiceView,
  serviceEnvironment,
  servicesOutcome,
} from '../services/index.js';
import { objectKey } from './object-key.js';
import type { PlanChangesOf } from './plan-memo.js';
import { type EngineSnapshot, inventoryOf, type StoredPod } from './state.js';

/** A node as the engine sees it: readiness per heartbeat, capacity from registration. */
export interface NodeView {
  readonly name: string;
  readonly ready: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: { readonly cpu: number; readonly memoryBytes: number };
  /** The agent's latest status report (whole set). */
  readonly pods: readonly PodReport[];
  /**
   * When the node's agent was last heard from (ms since the epoch). Absent: no silence is
   * judged and `ready` is taken as given.
   */
  readonly lastHeartbeat?: number;
}

/** What happened to an object in a pass, and why. */
export interface ObjectReport {
  /** The app the object belongs to (a pod: its own, or its controller's). */
  readonly app?: string;
  readonly ref: ObjectRef;
  /** The plan's action for source objects; for pods made or placed in the pass also these. */
  readonly action: ChangeAction | 'scheduled' | 'pending';
  readonly reason: string;
  /** The node a scheduled pod was bound to. */
  readonly node?: string;
  /** Counts of an RC after the pass. */
  readonly replicas?: RcStatus;
}

export interface Decision {
  /** Set when the planner refused (it would delete everything): nothing else changes. */
  readonly refused?: AppRefusal;
  readonly next: EngineSnapshot;
  /** The whole pod set of every node that has or had pods, and of every given node. */
  readonly assignments: ReadonlyMap<string, readonly Pod[]>;
  readonly reports: readonly ObjectReport[];
  /** Every service as the nodes carry it (empty when refused). */
  readonly services: readonly ServiceView[];
}

export interface DecideOptions {
  /** Where cluster IPs and node ports come from. @default 10.96.0.0/16 and 30000-32767 */
  readonly allocation?: AllocationOptions;
  readonly random: RandomSource;
  /** Silence after which a node is NotReady: nothing new is placed on it. @default 40000 */
  readonly nodeGraceMs?: number;
  /**
   * Silence after which a NotReady node's RC pods are evicted: dropped from its set and
   * replaced, under new names, on other nodes. Bare pods stay bound. @default 60000
   */
  readonly evictionTimeoutMs?: number;
  /**
   * Computes the services' outcome: `servicesOutcome`, or a memo of it that passes with the
   * same inputs share (`createServicesMemo`). @default servicesOutcome
   */
  readonly servicesOutcome?: ServicesOutcomeOf;
  /**
   * Plans each app: `planChanges`, or a memo of it that passes with the same objects share
   * (`createPlanMemo`). @default planChanges
   */
  readonly planChanges?: PlanChangesOf;
}

export const DEFAULT_NODE_GRACE_MS = 40_000;
export const DEFAULT_EVICTION_TIMEOUT_MS = 60_000;

/** How a node stands at `now`: silent nodes turn NotReady, then have their RC pods evicted. */
interface NodeStanding {
  readonly ready: boolean;
  readonly evicting: boolean;
  /** Why it is NotReady, for reports. */
  readonly why?: string;
}

function standingOf(node: NodeView, now: number, options: DecideOptions): NodeStanding {
  const grace = options.nodeGraceMs ?? DEFAULT_NODE_GRACE_MS;
  const eviction = options.evictionTimeoutMs ?? DEFAULT_EVICTION_TIMEOUT_MS;
  if (node.lastHeartbeat === undefined) {
    return node.ready
      ? { ready: true, evicting: false }
      : { ready: false, evicting: false, why: `node ${node.name} is NotReady` };
  }
  const silentMs = now - node.lastHeartbeat;
  const silent = silentMs >= grace;
  if (node.ready && !silent) return { ready: true, evicting: false };
  const since = new Date(node.lastHeartbeat).toISOString();
  return {
    ready: false,
    evicting: silentMs >= eviction,
    why: `node ${node.name} is NotReady (no heartbeat since ${since})`,
  };
}

const RC_KIND = 'ReplicationController';

export function podKey(pod: Pod): string {
  const namespace = pod.metadata.namespace;
  const ns = namespace === undefined || namespace === '' ? DEFAULT_NAMESPACE : namespace;
  return `${ns}/${pod.metadata.name ?? ''}`;
}

function podRef(key: string): ObjectRef {
  const slash = key.indexOf('/');
  return { kind: 'Pod', namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

function hex(random: RandomSource, length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) {
    text += Math.min(15, Math.max(0, Math.floor(random() * 16))).toString(16);
  }
  return text;
}

/** A pod as the store would keep it on creation: a uid and a creation time stamped on. */
function stamped(pod: Pod, now: number, random: RandomSource): Pod {
  const uid = `${hex(random, 8)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 12)}`;
  return {
    ...pod,
    metadata: { ...pod.metadata, uid, creationTimestamp: new Date(now).toISOString() },
  };
}

function controllerOf(pod: Pod): OwnerReference | undefined {
  return pod.metadata.ownerReferences?.find((ref) => ref.controller === true);
}

function withOwner(pod: Pod, owner: OwnerReference | undefined): Pod {
  const others = (pod.metadata.ownerReferences ?? []).filter((ref) => ref.controller !== true);
  const ownerReferences = owner === undefined ? others : [...others, owner];
  const { ownerReferences: _dropped, ...rest } = pod.metadata;
  return {
    ...pod,
    metadata: ownerReferences.length === 0 ? rest : { ...rest, ownerReferences },
  };
}

/** Per pod object, its LivePod and the status it was made with: a pass reuses the last one. */
const livePodsMade = new WeakMap<Pod, { readonly status: unknown; readonly live: LivePod }>();

/** `livePodFrom(pod, status)`, the same object again for the same pod and status objects. */
function livePodOf(pod: Pod, status: PodStatusReport | undefined): LivePod {
  const known = livePodsMade.get(pod);
  if (known !== undefined && known.status === status) return known.live;
  const live = livePodFrom(pod, status);
  livePodsMade.set(pod, { status, live });
  return live;
}

/** A node's reports by namespace, then name, each list in report order. */
type ReportIndex = ReadonlyMap<string, ReadonlyMap<string, readonly PodReport[]>>;

/** Per node, its reports indexed: made once per pass instead of a search per pod. */
function reportIndexes(nodes: ReadonlyMap<string, NodeView>): Map<string, ReportIndex> {
  const indexes = new Map<string, ReportIndex>();
  for (const [name, node] of nodes) {
    const index = new Map<string, Map<string, PodReport[]>>();
    for (const report of node.pods) {
      let byName = index.get(report.namespace);
      if (byName === undefined) {
        byName = new Map();
        index.set(report.namespace, byName);
      }
      const same = byName.get(report.name);
      if (same === undefined) byName.set(report.name, [report]);
      else same.push(report);
    }
    indexes.set(name, index);
  }
  return indexes;
}

/** The first report of the pod's node for it: same namespace and name, and uid when known. */
function statusOf(
  stored: StoredPod,
  reports: ReadonlyMap<string, ReportIndex>,
): PodReport | undefined {
  if (stored.node === undefined) return undefined;
  const { metadata } = stored.pod;
  if (metadata.name === undefined) return undefined;
  const namespace = metadata.namespace ?? DEFAULT_NAMESPACE;
  return reports
    .get(stored.node)
    ?.get(namespace)
    ?.get(metadata.name)
    ?.find((report) => metadata.uid === undefined || report.uid === metadata.uid);
}

function demandOwner(pod: Pod, namespace: string): string | undefined {
  const owner = controllerOf(pod);
  return owner === undefined ? undefined : `${namespace}/${owner.kind}/${owner.name}`;
}

/** What git wants for one app, and how to plan it. */
export interface AppDesired {
  readonly objects: readonly DesiredObject[];
  readonly plan?: Partial<PlanOptions>;
}

/** A refused plan, and the app whose source it was made from. */
export interface AppRefusal extends PlanRefusal {
  readonly app: string;
}

/**
 * Apps missing from `desired` keep what they have: their last applied objects stand for what
 * git wants (an operator that restarts knows every app's objects before any is synced again).
 */
export function decide(
  desired: ReadonlyMap<string, AppDesired>,
  state: EngineSnapshot,
  givenNodes: readonly NodeView[],
  now: number,
  options: DecideOptions,
): Decision {
  const standings = new Map(givenNodes.map((node) => [node.name, standingOf(node, now, options)]));
  // Only ready nodes take new pods; the stale `ready` flag of a silent node is overridden.
  const nodeList = givenNodes.map((node) => ({
    ...node,
    ready: standings.get(node.name)?.ready ?? node.ready,
  }));
  const nodes = new Map(nodeList.map((node) => [node.name, node]));
  const appNames = [...new Set([...state.apps.keys(), ...desired.keys()])].sort();
  const allLive = appNames.flatMap((app) => state.apps.get(app) ?? []);
  const ownerApp = new Map<string, string>();
  for (const app of appNames) {
    for (const have of state.apps.get(app) ?? []) {
      ownerApp.set(objectKey(have.kind, have.object), app);
    }
  }
  const plans: { app: string; plan: Plan; wants: readonly DesiredObject[] }[] = [];
  for (const app of appNames) {
    const live = state.apps.get(app) ?? [];
    const wants = desired.get(app)?.objects ?? live;
    const plan = (options.planChanges ?? planChanges)(
      wants,
      allLive,
      inventoryOf(state, app),
      desired.get(app)?.plan,
    );
    if (isPlanRefusal(plan)) {
      return {
        refused: { ...plan, app },
        next: state,
        assignments: assignmentsOf(state.pods, nodeList, state.pods),
        reports: [],
        services: [],
      };
    }
    plans.push({ app, plan, wants });
  }

  const reports: ObjectReport[] = [];
  const apps = new Map<string, LiveObject[]>();
  const pods = new Map(state.pods);
  /** Pods made in this pass: they get the service environment of the services of now. */
  const madeNow = new Set<string>();
  /** Where each desired object was written, for messages. */
  const origins = new Map<string, Origin>();
  const deletedControllers = new Set<string>();
  /** Replaced pods and the node the old one ran on: the same agent swaps them in order. */
  const preferred = new Map<string, string>();
  for (const { app, plan, wants } of plans) {
    const desiredByKey = new Map<string, DesiredObject>();
    for (const want of wants) {
      const key = objectKey(want.kind, want.object);
      if (!desiredByKey.has(key)) desiredByKey.set(key, want);
      if (want.origin !== undefined && !origins.has(key)) origins.set(key, want.origin);
    }
    const liveByKey = new Map<string, LiveObject>();
    for (const have of state.apps.get(app) ?? []) {
      liveByKey.set(objectKey(have.kind, have.object), have);
    }
    const objects: LiveObject[] = [];
    for (const change of plan.changes) {
      const key = refKey(change.ref);
      const want = desiredByKey.get(key);
      const podKeyOf = `${change.ref.namespace}/${change.ref.name}`;
      if (change.ref.kind === 'Pod' && change.action === 'create') {
        const holder = pods.get(podKeyOf);
        const owner = holder === undefined ? undefined : controllerOf(holder.pod);
        if (owner !== undefined) {
          // Left out of the inventory, so a later pass creates it once the name is free.
          const reason = `the name is taken by a pod of ${owner.kind} ${owner.name}; not created`;
          reports.push({ app, ref: change.ref, action: 'pending', reason });
          continue;
        }
      }
      const kept = change.action === 'delete' ? undefined : (want ?? liveByKey.get(key));
      if (kept !== undefined) objects.push({ kind: kept.kind, object: kept.object });
      reports.push({ app, ref: change.ref, action: change.action, reason: change.reason });
      if (change.ref.kind === 'ReplicationController' && change.action === 'delete') {
        deletedControllers.add(`${change.ref.namespace}/${change.ref.name}`);
      }
      if (change.ref.kind !== 'Pod') continue;
      switch (change.action) {
        case 'delete':
          pods.delete(podKeyOf);
          break;
        case 'create':
        case 'update':
        case 'replace':
          // A pod's spec cannot change in place: a new one (new uid) replaces it.
          if (want !== undefined) {
            const previousNode = pods.get(podKeyOf)?.node;
            if (previousNode !== undefined) preferred.set(podKeyOf, previousNode);
            pods.set(podKeyOf, { pod: stamped(want.object as Pod, now, options.random) });
            madeNow.add(podKeyOf);
          }
          break;
        case 'unchanged':
          break;
      }
    }
    for (const conflict of plan.conflicts ?? []) {
      const other = ownerApp.get(refKey(conflict.ref));
      const reason =
        other !== undefined && other !== app
          ? `${refKey(conflict.ref)} belongs to app ${other}; left alone`
          : conflict.reason;
      reports.push({ app, ref: conflict.ref, action: 'unchanged', reason });
    }
    // An app whose objects all left (allowed) is kept as an empty entry only while desired.
    if (objects.length > 0 || desired.has(app)) apps.set(app, objects);
  }
  for (const [app, objects] of apps) {
    for (const object of objects) ownerApp.set(objectKey(object.kind, object.object), app);
  }

  // Cascade: the pods of an RC that left git go with it.
  for (const [key, stored] of pods) {
    const owner = controllerOf(stored.pod);
    const namespace = key.slice(0, key.indexOf('/'));
    if (owner?.kind === RC_KIND && deletedControllers.has(`${namespace}/${owner.name}`)) {
      pods.delete(key);
      reports.push({
        ref: podRef(key),
        action: 'delete',
        reason: `its ReplicationController ${owner.name} left git`,
      });
    }
  }

  evictFromSilentNodes(pods, standings, reports);

  const controllers = [...apps.values()]
    .flat()
    .filter((object) => object.kind === 'ReplicationController')
    .map((object) => object.object as ReplicationController);
  const reportsByNode = reportIndexes(nodes);
  const livePods: LivePod[] = [];
  for (const stored of pods.values()) {
    // The agent's report carries the generated PodStatus type; agents send status-types' shape.
    const report = statusOf(stored, reportsByNode)?.status as PodStatusReport | undefined;
    livePods.push(livePodOf(stored.pod, report));
  }
  const decisions = reconcileReplicationControllers(controllers, livePods, now, options.random);
  const rcReports = new Map<string, RcStatus>();
  for (const { namespace, name, decision } of decisions) {
    rcReports.set(`${namespace}/${name}`, decision.status);
    for (const creation of decision.creates) {
      const key = podKey(creation.pod);
      pods.set(key, { pod: stamped(creation.pod, now, options.random) });
      madeNow.add(key);
      reports.push({ ref: podRef(key), action: 'create', reason: creation.reason });
    }
    for (const deletion of decision.deletes) {
      const key = `${deletion.namespace}/${deletion.name}`;
      pods.delete(key);
      reports.push({ ref: podRef(key), action: 'delete', reason: deletion.reason });
    }
    for (const adopted of decision.adopts) {
      const key = `${adopted.namespace}/${adopted.name}`;
      const stored = pods.get(key);
      if (stored !== undefined) {
        pods.set(key, { ...stored, pod: withOwner(stored.pod, decision.ownerReference) });
      }
    }
    for (const released of decision.releases) {
      const key = `${released.namespace}/${released.name}`;
      const stored = pods.get(key);
      if (stored !== undefined) pods.set(key, { ...stored, pod: withOwner(stored.pod, undefined) });
    }
  }

  // Services: addresses held or allocated, endpoints from the pods' reports. A written address
  // or node port that cannot be had refuses the whole pass: nothing is half-applied.
  const serviceInputs: ServiceToAllocate[] = [];
  for (const object of [...apps.values()].flat()) {
    if (object.kind !== 'Service') continue;
    const key = objectKey(object.kind, object.object);
    const origin = origins.get(key);
    serviceInputs.push({
      key,
      service: object.object as Service,
      ...(origin === undefined ? {} : { origin }),
    });
  }
  const podsOnNodes: PodOnNode[] = [];
  for (const stored of pods.values()) {
    if (stored.node === undefined) continue;
    const status = statusOf(stored, reportsByNode)?.status as PodStatusReport | undefined;
    podsOnNodes.push({
      pod: stored.pod,
      node: stored.node,
      ...(status === undefined ? {} : { status }),
    });
  }
  const services = (options.servicesOutcome ?? servicesOutcome)(
    serviceInputs,
    state.allocations ?? [],
    podsOnNodes,
    options.allocation,
  );
  if (services.problems.length > 0) {
    const problem = services.problems[0]!;
    const app = ownerApp.get(problem.key) ?? appNames[0] ?? '';
    const describe = (p: (typeof services.problems)[number]): string => {
      const where =
        p.origin === undefined ? '' : `${p.origin.file}:${p.origin.line}:${p.origin.column}: `;
      return `${where}service/${p.key.slice(p.key.lastIndexOf('/') + 1)}: ${formatAllocationProblem(p)}`;
    };
    return {
      refused: {
        refused: true,
        code: 'PLAN_ALLOCATION_REFUSED',
        app,
        message: services.problems.map(describe).join('; '),
        deletions: [],
      },
      next: state,
      assignments: assignmentsOf(state.pods, nodeList, state.pods),
      reports: [],
      services: [],
    };
  }
  for (const key of madeNow) {
    const stored = pods.get(key);
    if (stored === undefined) continue;
    pods.set(key, { ...stored, pod: withServiceEnv(stored.pod, services.views) });
  }

  scheduleUnbound(pods, nodeList, preferred, reports);
  reportStranded(pods, standings, reports);

  const withCounts = reports.map((report) =>
    report.ref.kind === 'ReplicationController'
      ? withReplicas(report, rcReports.get(`${report.ref.namespace}/${report.ref.name}`))
      : report,
  );
  const withApps = withCounts.map((report) =>
    report.app === undefined ? withApp(report, ownerApp, pods, state.pods) : report,
  );
  return {
    next: { apps, pods, allocations: services.held },
    assignments: assignmentsOf(pods, nodeList, state.pods),
    reports: withApps,
    services: services.views,
  };
}

/**
 * A new pod with the environment variables of the services that exist now (its namespace's),
 * as the kubelet gives them; the agent puts them before the container's own.
 */
function withServiceEnv(pod: Pod, views: readonly ServiceView[]): Pod {
  const env = serviceEnvironment(views, pod.metadata.namespace ?? DEFAULT_NAMESPACE);
  if (env.length === 0) return pod;
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: {
        ...(pod.metadata.annotations ?? {}),
        [SERVICE_ENV_ANNOTATION]: JSON.stringify(env),
      },
    },
  };
}

/**
 * RC pods on a node silent past the eviction timeout leave the pod set, so the RC's count
 * falls and it makes replacements with new names: one name never runs twice, and the node
 * drops the old pod from its set if it comes back.
 */
function evictFromSilentNodes(
  pods: Map<string, StoredPod>,
  standings: ReadonlyMap<string, NodeStanding>,
  reports: ObjectReport[],
): void {
  for (const [key, stored] of pods) {
    if (stored.node === undefined) continue;
    const standing = standings.get(stored.node);
    if (standing?.evicting !== true) continue;
    const owner = controllerOf(stored.pod);
    if (owner?.kind !== RC_KIND) continue;
    pods.delete(key);
    reports.push({
      ref: podRef(key),
      action: 'delete',
      reason: `evicted: ${standing.why ?? `node ${stored.node} is NotReady`}; ReplicationController ${owner.name} replaces it`,
      node: stored.node,
    });
  }
}

/** Bare pods stay bound to a NotReady node; their report says where they are stuck. */
function reportStranded(
  pods: ReadonlyMap<string, StoredPod>,
  standings: ReadonlyMap<string, NodeStanding>,
  reports: ObjectReport[],
): void {
  /**
   * Per refKey, the index of its first 'unchanged' report (-1: it has reports, none of them
   * unchanged). Made at the first stranded pod; each pod changes only its own key's entries.
   */
  let byKey: Map<string, number> | undefined;
  for (const [key, stored] of pods) {
    if (stored.node === undefined) continue;
    const standing = standings.get(stored.node);
    if (standing === undefined || standing.ready) continue;
    const ref = podRef(key);
    const reason = `on an unreachable node: ${standing.why ?? `node ${stored.node} is NotReady`}`;
    byKey ??= firstUnchangedReports(reports);
    const index = byKey.get(refKey(ref));
    const stranded: ObjectReport = { ref, action: 'unchanged', reason, node: stored.node };
    if (index === undefined) reports.push(stranded);
    else if (index >= 0) reports[index] = stranded;
  }
}

/** Per refKey of `reports`, the index of the first 'unchanged' one, or -1 when none is. */
function firstUnchangedReports(reports: readonly ObjectReport[]): Map<string, number> {
  const byKey = new Map<string, number>();
  reports.forEach((report, index) => {
    const key = refKey(report.ref);
    const known = byKey.get(key);
    if (report.action === 'unchanged') {
      if (known === undefined || known === -1) byKey.set(key, index);
    } else if (known === undefined) {
      byKey.set(key, -1);
    }
  });
  return byKey;
}

/** A pod's app: its own (a bare pod) or its controller's. */
function withApp(
  report: ObjectReport,
  ownerApp: ReadonlyMap<string, string>,
  pods: ReadonlyMap<string, StoredPod>,
  previous: ReadonlyMap<string, StoredPod>,
): ObjectReport {
  const direct = ownerApp.get(refKey(report.ref));
  if (direct !== undefined) return { ...report, app: direct };
  if (report.ref.kind !== 'Pod') return report;
  const key = `${report.ref.namespace}/${report.ref.name}`;
  const stored = pods.get(key) ?? previous.get(key);
  const owner = stored === undefined ? undefined : controllerOf(stored.pod);
  if (owner === undefined) return report;
  const app = ownerApp.get(`${owner.kind}/${report.ref.namespace}/${owner.name}`);
  return app === undefined ? report : { ...report, app };
}

function withReplicas(report: ObjectReport, replicas: RcStatus | undefined): ObjectReport {
  return replicas === undefined ? report : { ...report, replicas };
}

/**
 * Binds every unbound pod the scheduler places; the rest stay Pending with its message. A
 * replaced pod is tried on its old node first: that agent removes the old pod before it starts
 * the new one, so the two never run at once on different nodes. Only when it no longer fits
 * there is it scheduled like any other pod. If that node is NotReady the new pod stays bound to
 * it anyway (the old one may still run there, out of reach).
 */
function scheduleUnbound(
  pods: Map<string, StoredPod>,
  nodeList: readonly NodeView[],
  preferred: ReadonlyMap<string, string>,
  reports: ObjectReport[],
): void {
  // Bound pods only count against the nodes of pods to place: without one, nothing to do.
  let unbound = false;
  for (const stored of pods.values()) {
    if (stored.node === undefined) {
      unbound = true;
      break;
    }
  }
  if (!unbound) return;
  const placed = new Map<string, PodToPlace[]>();
  const addPlaced = (node: string, demand: PodToPlace): void => {
    const list = placed.get(node);
    if (list === undefined) placed.set(node, [demand]);
    else list.push(demand);
  };
  const pinned: PodToPlace[] = [];
  const free: PodToPlace[] = [];
  /** Replaced pods whose old one is on a NotReady node: they wait there, bound, for it. */
  const held: string[] = [];
  const notReady = new Set(nodeList.filter((node) => !node.ready).map((node) => node.name));
  for (const [key, stored] of pods) {
    const namespace = key.slice(0, key.indexOf('/'));
    const demand = podToPlace(key, stored.pod.spec, demandOwner(stored.pod, namespace));
    if (stored.node !== undefined) {
      addPlaced(stored.node, demand);
      continue;
    }
    const previous = preferred.get(key);
    if (previous !== undefined && notReady.has(previous)) {
      // The old pod may still run there, out of reach: placing the new one (same name)
      // elsewhere could run the name twice. That node swaps them when it is back.
      held.push(key);
      addPlaced(previous, demand);
    } else if (previous !== undefined && demand.nodeName === undefined) {
      pinned.push({ ...demand, nodeName: previous });
    } else {
      free.push(demand);
    }
  }
  const infos = (): NodeInfo[] =>
    nodeList.map((node) => ({
      name: node.name,
      ready: node.ready,
      labels: node.labels,
      allocatable: {
        cpuMillis: Math.floor(node.capacity.cpu * 1000),
        memoryBytes: node.capacity.memoryBytes,
      },
      pods: placed.get(node.name) ?? [],
    }));
  const bind = (key: string, node: string): void => {
    const stored = pods.get(key);
    if (stored === undefined) return;
    const pod = { ...stored.pod, spec: { ...stored.pod.spec, nodeName: node } };
    pods.set(key, { pod, node });
    reports.push({ ref: podRef(key), action: 'scheduled', reason: `bound to ${node}`, node });
  };
  for (const key of held) {
    const node = preferred.get(key);
    if (node !== undefined) bind(key, node);
  }
  if (pinned.length > 0) {
    for (const placement of schedule(pinned, infos())) {
      const { nodeName: _previous, ...demand } = placement.pod;
      if (isPlaced(placement)) {
        bind(placement.pod.key, placement.node);
        addPlaced(placement.node, demand);
      } else {
        free.push(demand);
      }
    }
  }
  if (free.length === 0) return;
  for (const placement of schedule(free, infos())) {
    if (isPlaced(placement)) bind(placement.pod.key, placement.node);
    else {
      reports.push({
        ref: podRef(placement.pod.key),
        action: 'pending',
        reason: placement.unschedulable,
      });
    }
  }
}

/** Per node, the pods bound to it; nodes that had pods before get their (maybe empty) set. */
function assignmentsOf(
  pods: ReadonlyMap<string, StoredPod>,
  nodeList: readonly NodeView[],
  previous: ReadonlyMap<string, StoredPod>,
): Map<string, Pod[]> {
  const sets = new Map<string, Pod[]>();
  for (const node of nodeList) sets.set(node.name, []);
  for (const stored of previous.values()) {
    if (stored.node !== undefined && !sets.has(stored.node)) sets.set(stored.node, []);
  }
  for (const stored of pods.values()) {
    if (stored.node === undefined) continue;
    const list = sets.get(stored.node);
    if (list === undefined) sets.set(stored.node, [stored.pod]);
    else list.push(stored.pod);
  }
  return sets;
}
