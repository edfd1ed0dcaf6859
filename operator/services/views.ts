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
import { type PodOnNode, readyEndpoints, servicePortName, serviceView } from './endpoints.js';
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
  const views: ServiceView[] = [];
  for (const { key, service } of services) {
    if (!plan.clusterIPs.has(key)) continue;
    const view = serviceView(
      service,
      plan.clusterIPs.get(key),
      plan.nodePorts.get(key) ?? {},
      readyEndpoints(service, pods),
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
  const value = (kind: HeldAllocation['kind'], owner: string): string | undefined =>
    held.find((a) => a.kind === kind && a.owner === owner)?.value;
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
    const view = serviceView(service, clusterIP, nodePorts, readyEndpoints(service, pods));
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
