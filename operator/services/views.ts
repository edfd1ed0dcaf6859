/**
 * Every service's view for the nodes, in one pure step: addresses and node ports planned
 * against what is held (stable across passes and restarts), endpoints from the pods' reported
 * status. The engine runs it each pass; readers of the store run it to show endpoints.
 */
import type { Service } from '../model/generated/types.js';
import type { Allocation } from '../store/store.js';
import {
  type AllocationChange,
  type AllocationOptions,
  type AllocationProblem,
  nodePortOwner,
  planAllocations,
  type ServiceToAllocate,
} from './allocations.js';
import {
  indexedReadyEndpoints,
  indexPods,
  type PodOnNode,
  servicePortName,
  serviceView,
} from './endpoints.js';
import { DEFAULT_SERVICE_CIDR, type ServiceView } from './types.js';

/** A value a service holds; the store adds when it was allocated. */
export type HeldAllocation = Pick<Allocation, 'kind' | 'owner' | 'value'>;

export const DEFAULT_ALLOCATION_OPTIONS: AllocationOptions = {
  serviceCidr: DEFAULT_SERVICE_CIDR,
  nodePortRange: { min: 30000, max: 32767 },
};

export interface ServicesOutcome {
  /** One per service with its address settled, by namespace then name. */
  readonly views: readonly ServiceView[];
  /** What is held after this step: the held values, less releases, plus claims. */
  readonly held: readonly HeldAllocation[];
  readonly claims: readonly AllocationChange[];
  readonly releases: readonly AllocationChange[];
  readonly problems: readonly AllocationProblem[];
}

export function servicesOutcome(
  services: readonly ServiceToAllocate[],
  held: readonly HeldAllocation[],
  pods: readonly PodOnNode[],
  options: AllocationOptions = DEFAULT_ALLOCATION_OPTIONS,
): ServicesOutcome {
  const plan = planAllocations(
    services,
    held.map((allocation) => ({ ...allocation, allocatedAt: '' })),
    options,
  );
  const index = indexPods(pods);
  const views: ServiceView[] = [];
  for (const { key, service } of services) {
    if (!plan.clusterIPs.has(key)) continue;
    const view = serviceView(
      service,
      plan.clusterIPs.get(key),
      plan.nodePorts.get(key) ?? {},
      indexedReadyEndpoints(service, index),
    );
    if (view !== undefined) views.push(view);
  }
  views.sort((a, b) =>
    a.namespace === b.namespace ? compare(a.name, b.name) : compare(a.namespace, b.namespace),
  );
  const released = new Set(plan.releases.map((r) => `${r.kind} ${r.owner} ${r.value}`));
  const next: HeldAllocation[] = held.filter(
    (allocation) => !released.has(`${allocation.kind} ${allocation.owner} ${allocation.value}`),
  );
  for (const claim of plan.claims)
    next.push({ kind: claim.kind, owner: claim.owner, value: claim.value });
  return {
    views,
    held: next,
    claims: plan.claims,
    releases: plan.releases,
    problems: plan.problems,
  };
}

/** `servicesOutcome`, as a function that may remember its last answer. */
export type ServicesOutcomeOf = (
  services: readonly ServiceToAllocate[],
  held: readonly HeldAllocation[],
  pods: readonly PodOnNode[],
  options?: AllocationOptions,
) => ServicesOutcome;

/**
 * `servicesOutcome` that answers a call whose inputs are the same as the last call's with the
 * last outcome again (the same object). Inputs count as the same when every service (key,
 * object, origin) and every pod (object, node, status) is the very object it was, and held
 * allocations and options have the same values: a reconcile pass in which nothing changed
 * computes no endpoint. Objects handed in must not be changed afterwards (the engine's are
 * not); the outcome must not be changed by the caller.
 */
export function createServicesMemo(): ServicesOutcomeOf {
  let last:
    | {
        readonly services: readonly ServiceToAllocate[];
        readonly held: readonly HeldAllocation[];
        readonly pods: readonly PodOnNode[];
        readonly options: AllocationOptions;
        readonly outcome: ServicesOutcome;
      }
    | undefined;
  return (services, held, pods, options = DEFAULT_ALLOCATION_OPTIONS) => {
    if (
      last !== undefined &&
      sameServices(last.services, services) &&
      sameHeld(last.held, held) &&
      samePods(last.pods, pods) &&
      sameOptions(last.options, options)
    ) {
      return last.outcome;
    }
    const outcome = servicesOutcome(services, held, pods, options);
    // Copies of the lists: a caller may reuse its arrays; the elements are compared by identity.
    last = { services: [...services], held: [...held], pods: [...pods], options, outcome };
    return outcome;
  };
}

function sameServices(a: readonly ServiceToAllocate[], b: readonly ServiceToAllocate[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as ServiceToAllocate;
    const y = b[i] as ServiceToAllocate;
    if (x.key !== y.key || x.service !== y.service || x.origin !== y.origin) return false;
  }
  return true;
}

function sameHeld(a: readonly HeldAllocation[], b: readonly HeldAllocation[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as HeldAllocation;
    const y = b[i] as HeldAllocation;
    if (x.kind !== y.kind || x.owner !== y.owner || x.value !== y.value) return false;
  }
  return true;
}

function samePods(a: readonly PodOnNode[], b: readonly PodOnNode[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as PodOnNode;
    const y = b[i] as PodOnNode;
    if (x.pod !== y.pod || x.node !== y.node || x.status !== y.status) return false;
  }
  return true;
}

function sameOptions(a: AllocationOptions, b: AllocationOptions): boolean {
  return (
    a === b ||
    (a.serviceCidr === b.serviceCidr &&
      a.nodePortRange.min === b.nodePortRange.min &&
      a.nodePortRange.max === b.nodePortRange.max)
  );
}

/**
 * The views from what is held, planning nothing (readers of the store: they know no
 * `--service-cidr` and must not allocate). A service without its address yet is left out; a
 * port with no node port of its own held shows the one written, if any.
 */
export function heldServiceViews(
  services: readonly ServiceToAllocate[],
  held: readonly HeldAllocation[],
  pods: readonly PodOnNode[],
): ServiceView[] {
  // The first held value per kind and owner, as a search of `held` would find it.
  const byOwner = new Map<string, string>();
  for (const allocation of held) {
    const at = `${allocation.kind} ${allocation.owner}`;
    if (!byOwner.has(at)) byOwner.set(at, allocation.value);
  }
  const value = (kind: HeldAllocation['kind'], owner: string): string | undefined =>
    byOwner.get(`${kind} ${owner}`);
  const index = indexPods(pods);
  const views: ServiceView[] = [];
  for (const { key, service } of services) {
    const headless = service.spec.clusterIP === 'None';
    const clusterIP = headless ? undefined : value('clusterIP', key);
    if (!headless && clusterIP === undefined) continue;
    const nodePorts: Record<string, number> = {};
    for (const port of service.spec.ports ?? []) {
      const name = servicePortName(port);
      const number = Number(value('nodePort', nodePortOwner(key, name)) ?? port.nodePort);
      if (Number.isInteger(number) && number > 0) nodePorts[name] = number;
    }
    const view = serviceView(service, clusterIP, nodePorts, indexedReadyEndpoints(service, index));
    if (view !== undefined) views.push(view);
  }
  return views.sort((a, b) =>
    a.namespace === b.namespace ? compare(a.name, b.name) : compare(a.namespace, b.namespace),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type { Service };
