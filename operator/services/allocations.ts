/**
 * Cluster IPs and node ports, planned as a pure function of the services and what the store
 * holds: which values each service ends up with, what to claim and release, and what cannot
 * be honoured (with the field and the fix). The caller applies `releases` then `claims` in
 * one store transaction.
 *
 * Rules:
 * - A service keeps what it holds, across re-applies and restarts, while the value is still
 *   valid (inside the configured range) and the manifest does not ask for another one.
 * - `clusterIP: None` is headless: no address. A written `clusterIP` is honoured when it is
 *   inside the range and nobody else holds it; otherwise a problem, and a service that held an
 *   address keeps it meanwhile. Else the lowest free address (the network address, the first
 *   host and the broadcast address are never given out).
 * - NodePort and LoadBalancer: each port gets its written `nodePort` (inside the range, not
 *   held by another service) or the lowest free one; a port renamed keeps the number its
 *   service freed when it can. Two ports of one service may share a node port when their
 *   protocols differ (as Kubernetes allows); the first holds it. A LoadBalancer with
 *   `allocateLoadBalancerNodePorts: false` gets written ports only.
 * - A service that is no longer NodePort/LoadBalancer releases its node ports; a service gone
 *   from `services` releases everything: pass every service the operator carries.
 * - Owners are refKeys (`Service/ns/name`) for cluster IPs and `refKey#portName` for node ports.
 */

import { BerthError } from '../model/errors.js';
import type { Service } from '../model/generated/types.js';
import { formatIPv4, parseIPv4 } from '../model/ipv4.js';
import type { Origin } from '../model/problem.js';
import { clusterIPCandidates } from '../store/ranges.js';
import type { Allocation, AllocationKind } from '../store/store.js';
import { servicePortName } from './endpoints.js';

export interface ServiceToAllocate {
  /** The service's refKey, `Service/ns/name`. */
  readonly key: string;
  readonly service: Service;
  /** Where the service is written, carried into problems. */
  readonly origin?: Origin;
}

export interface AllocationOptions {
  /** IPv4 CIDR the cluster IPs come from (`10.96.0.0/16`). */
  readonly serviceCidr: string;
  readonly nodePortRange: { readonly min: number; readonly max: number };
}

/** A value to claim for an owner, or one the owner holds and must release. */
export interface AllocationChange {
  readonly kind: AllocationKind;
  readonly owner: string;
  readonly value: string;
}

export interface AllocationProblem {
  /** The service's refKey. */
  readonly key: string;
  readonly origin?: Origin;
  /** kubectl's field path: `spec.clusterIP`, `spec.ports[0].nodePort`. */
  readonly field: string;
  /** What is wrong and the fix, without the field (see formatAllocationProblem). */
  readonly message: string;
}

export interface AllocationPlan {
  /**
   * Service key -> its cluster IP; undefined for a headless or ExternalName service. A
   * service whose address could not be settled (see problems) is absent.
   */
  readonly clusterIPs: Map<string, string | undefined>;
  /** Service key -> port name -> node port; `{}` for a service without node ports. */
  readonly nodePorts: Map<string, Record<string, number>>;
  readonly claims: AllocationChange[];
  readonly releases: AllocationChange[];
  readonly problems: AllocationProblem[];
}

/** The allocation owner of one node port of a service. */
export function nodePortOwner(serviceKey: string, portName: string): string {
  return `${serviceKey}#${portName}`;
}

/** The service key of an allocation owner (`Service/ns/name#http` -> `Service/ns/name`). */
export function ownerServiceKey(owner: string): string {
  const hash = owner.indexOf('#');
  return hash === -1 ? owner : owner.slice(0, hash);
}

/** `field: message`, as kubectl prints a refused field. */
export function formatAllocationProblem(problem: AllocationProblem): string {
  return `${problem.field}: ${problem.message}`;
}

function serviceName(key: string): string {
  return key.startsWith('Service/') ? key.slice('Service/'.length) : key;
}

interface IPRange {
  readonly cidr: string;
  readonly first: number;
  readonly last: number;
}

function parseServiceCidr(cidr: string): IPRange {
  const [address, bitsText] = cidr.split('/');
  const base = address === undefined ? undefined : parseIPv4(address);
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 8 || bits > 30) {
    throw new BerthError(
      'CLI_USAGE',
      `the service range ${cidr} is not an IPv4 CIDR from /8 to /30`,
      {
        hint: 'give --service-cidr as an IPv4 network, e.g. 10.96.0.0/16',
      },
    );
  }
  const size = 2 ** (32 - bits);
  const network = base - (base % size);
  return { cidr, first: network + 2, last: network + size - 2 };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface PortWant {
  readonly index: number;
  readonly name: string;
  readonly owner: string;
  readonly protocol: string;
  readonly written: number | undefined;
}

interface ServiceWant {
  readonly key: string;
  readonly origin: Origin | undefined;
  /** 'none': headless or ExternalName; 'auto': allocate; else the written address. */
  readonly ip:
    | { readonly mode: 'none' }
    | { readonly mode: 'auto' }
    | { readonly mode: 'written'; readonly value: string };
  readonly ports: readonly PortWant[];
}

function wantOf(entry: ServiceToAllocate): ServiceWant {
  const spec = entry.service.spec;
  const type = spec.type ?? 'ClusterIP';
  const written = spec.clusterIP ?? spec.clusterIPs?.[0] ?? '';
  const ip: ServiceWant['ip'] =
    type === 'ExternalName' || written === 'None'
      ? { mode: 'none' }
      : written === ''
        ? { mode: 'auto' }
        : { mode: 'written', value: written };
  const exposes = type === 'NodePort' || type === 'LoadBalancer';
  const allocateMissing = !(
    type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === false
  );
  const ports: PortWant[] = [];
  if (exposes) {
    (spec.ports ?? []).forEach((port, index) => {
      const written =
        port.nodePort === undefined || port.nodePort === 0 ? undefined : port.nodePort;
      if (written === undefined && !allocateMissing) return;
      const name = servicePortName(port);
      ports.push({
        index,
        name,
        owner: nodePortOwner(entry.key, name),
        protocol: port.protocol ?? 'TCP',
        written,
      });
    });
  }
  return { key: entry.key, origin: entry.origin, ip, ports };
}

/** Plans cluster IPs and node ports; see the module comment for the rules. */
export function planAllocations(
  services: readonly ServiceToAllocate[],
  held: readonly Allocation[],
  options: AllocationOptions,
): AllocationPlan {
  const range = parseServiceCidr(options.serviceCidr);
  const portRange = options.nodePortRange;
  const rangeText = `${formatIPv4(range.first)}-${formatIPv4(range.last)}`;
  const portRangeText = `${portRange.min}-${portRange.max}`;
  const wants = [...services].sort((a, b) => compareText(a.key, b.key)).map(wantOf);
  const problems: AllocationProblem[] = [];
  const problem = (want: ServiceWant, field: string, message: string): void => {
    problems.push({
      key: want.key,
      ...(want.origin === undefined ? {} : { origin: want.origin }),
      field,
      message,
    });
  };

  const heldIP = new Map<string, string>();
  const heldPort = new Map<string, string>();
  for (const allocation of held) {
    (allocation.kind === 'clusterIP' ? heldIP : heldPort).set(allocation.owner, allocation.value);
  }
  const ipInRange = (value: string): boolean => {
    const n = parseIPv4(value);
    return n !== undefined && n >= range.first && n <= range.last;
  };
  const portInRange = (value: number): boolean =>
    Number.isInteger(value) && value >= portRange.min && value <= portRange.max;
  const heldPortNumber = (owner: string): number | undefined => {
    const text = heldPort.get(owner);
    if (text === undefined || !/^[0-9]+$/.test(text)) return undefined;
    const value = Number(text);
    return portInRange(value) ? value : undefined;
  };

  // What each value is given to in this plan.
  const ipUser = new Map<string, string>(); // ip -> service key
  const portUser = new Map<number, { owner: string; key: string; protocol: string }>();
  const finalIP = new Map<string, string>(); // service key -> ip
  const finalPort = new Map<string, number>(); // owner -> port
  const sharedPorts = new Set<string>(); // owners that share a port another owner holds
  // Held values kept aside for a service that asks for another one, in case it is refused.
  const fallbackIP = new Map<string, string>();
  const fallbackPort = new Map<string, number>();

  // 1. Keep what is held and still wanted.
  for (const want of wants) {
    const heldValue = heldIP.get(want.key);
    if (want.ip.mode !== 'none' && heldValue !== undefined && ipInRange(heldValue)) {
      if (want.ip.mode === 'auto' || want.ip.value === heldValue) {
        finalIP.set(want.key, heldValue);
      } else {
        fallbackIP.set(want.key, heldValue);
      }
      ipUser.set(heldValue, want.key);
    }
    for (const port of want.ports) {
      const value = heldPortNumber(port.owner);
      if (value === undefined) continue;
      if (port.written === undefined || port.written === value) {
        finalPort.set(port.owner, value);
      } else {
        fallbackPort.set(port.owner, value);
      }
      portUser.set(value, { owner: port.owner, key: want.key, protocol: port.protocol });
    }
  }

  // 2. Written values not yet settled.
  for (const want of wants) {
    if (want.ip.mode === 'written' && !finalIP.has(want.key)) {
      const value = want.ip.value;
      const fallback = fallbackIP.get(want.key);
      const keeps = fallback === undefined ? '' : `; the service keeps ${fallback} until then`;
      const holder = ipUser.get(value);
      if (!ipInRange(value)) {
        problem(
          want,
          'spec.clusterIP',
          `${value} is outside the service range ${range.cidr} (${rangeText}); choose an address in it or leave clusterIP out to have one allocated${keeps}`,
        );
      } else if (holder !== undefined && holder !== want.key) {
        problem(
          want,
          'spec.clusterIP',
          `${value} is already allocated to service ${serviceName(holder)}; choose another or leave it out to have one allocated${keeps}`,
        );
      } else {
        if (fallback !== undefined) {
          ipUser.delete(fallback);
          fallbackIP.delete(want.key);
        }
        finalIP.set(want.key, value);
        ipUser.set(value, want.key);
      }
    }
    for (const port of want.ports) {
      if (port.written === undefined || finalPort.has(port.owner)) continue;
      const value = port.written;
      const field = `spec.ports[${port.index}].nodePort`;
      const fallback = fallbackPort.get(port.owner);
      const keeps = fallback === undefined ? '' : `; the port keeps ${fallback} until then`;
      const user = portUser.get(value);
      if (!portInRange(value)) {
        problem(
          want,
          field,
          `${value} is outside the node port range ${portRangeText}; choose one in it or leave it out to have one allocated${keeps}`,
        );
      } else if (user !== undefined && user.owner !== port.owner) {
        if (user.key === want.key && user.protocol !== port.protocol) {
          // TCP and UDP ports of one service may share a node port; the first holds it.
          if (fallback !== undefined) {
            portUser.delete(fallback);
            fallbackPort.delete(port.owner);
          }
          finalPort.set(port.owner, value);
          sharedPorts.add(port.owner);
          continue;
        }
        const who =
          user.key === want.key
            ? `port ${JSON.stringify(user.owner.slice(want.key.length + 1))} of this service`
            : `service ${serviceName(user.key)}`;
        problem(
          want,
          field,
          `${value} is already allocated to ${who}; choose another or leave it out to have one allocated${keeps}`,
        );
      } else {
        if (fallback !== undefined) {
          portUser.delete(fallback);
          fallbackPort.delete(port.owner);
        }
        finalPort.set(port.owner, value);
        portUser.set(value, { owner: port.owner, key: want.key, protocol: port.protocol });
      }
    }
  }
  // A refused value leaves the service on what it held.
  for (const [key, value] of fallbackIP) finalIP.set(key, value);
  for (const [owner, value] of fallbackPort) finalPort.set(owner, value);

  // 3. Allocate the lowest free value to the rest.
  let ipCandidates: Generator<string> | undefined;
  const nextFreeIP = (): string | undefined => {
    ipCandidates ??= clusterIPCandidates(range.cidr);
    for (;;) {
      const next = ipCandidates.next();
      if (next.done === true) return undefined;
      if (!ipUser.has(next.value)) return next.value;
    }
  };
  let nextPort = portRange.min;
  const nextFreePort = (): number | undefined => {
    while (nextPort <= portRange.max && portUser.has(nextPort)) nextPort += 1;
    return nextPort <= portRange.max ? nextPort : undefined;
  };
  for (const want of wants) {
    if (want.ip.mode === 'auto' && !finalIP.has(want.key)) {
      const value = nextFreeIP();
      if (value === undefined) {
        problem(
          want,
          'spec.clusterIP',
          `no address is free in the service range ${range.cidr} (${rangeText}); delete a service or widen --service-cidr`,
        );
      } else {
        finalIP.set(want.key, value);
        ipUser.set(value, want.key);
      }
    }
    // Numbers this service held under port names it no longer has, lowest first.
    const freed = [...heldPort]
      .filter(([owner]) => ownerServiceKey(owner) === want.key)
      .filter(([owner]) => !want.ports.some((p) => p.owner === owner))
      .map(([, value]) => Number(value))
      .filter((value) => portInRange(value) && !portUser.has(value))
      .sort((a, b) => a - b);
    for (const port of want.ports) {
      if (port.written !== undefined || finalPort.has(port.owner)) continue;
      const reused = freed.find((value) => !portUser.has(value));
      const value = reused ?? nextFreePort();
      if (value === undefined) {
        problem(
          want,
          `spec.ports[${port.index}].nodePort`,
          `no node port is free in the range ${portRangeText}; delete a NodePort service or widen the node port range`,
        );
        continue;
      }
      finalPort.set(port.owner, value);
      portUser.set(value, { owner: port.owner, key: want.key, protocol: port.protocol });
    }
  }

  // Results, claims and releases.
  const clusterIPs = new Map<string, string | undefined>();
  const nodePorts = new Map<string, Record<string, number>>();
  const claims: AllocationChange[] = [];
  for (const want of wants) {
    const ip = finalIP.get(want.key);
    if (want.ip.mode === 'none') clusterIPs.set(want.key, undefined);
    else if (ip !== undefined) clusterIPs.set(want.key, ip);
    if (ip !== undefined && heldIP.get(want.key) !== ip) {
      claims.push({ kind: 'clusterIP', owner: want.key, value: ip });
    }
    const ports: Record<string, number> = {};
    for (const port of want.ports) {
      const value = finalPort.get(port.owner);
      if (value === undefined) continue;
      ports[port.name] = value;
      if (!sharedPorts.has(port.owner) && heldPort.get(port.owner) !== String(value)) {
        claims.push({ kind: 'nodePort', owner: port.owner, value: String(value) });
      }
    }
    nodePorts.set(want.key, ports);
  }
  const releases: AllocationChange[] = [];
  for (const allocation of held) {
    const port = sharedPorts.has(allocation.owner) ? undefined : finalPort.get(allocation.owner);
    const kept =
      allocation.kind === 'clusterIP'
        ? finalIP.get(allocation.owner)
        : port === undefined
          ? undefined
          : String(port);
    if (kept !== allocation.value) {
      releases.push({ kind: allocation.kind, owner: allocation.owner, value: allocation.value });
    }
  }
  const byKindOwner = (a: AllocationChange, b: AllocationChange): number =>
    compareText(a.kind, b.kind) || compareText(a.owner, b.owner);
  claims.sort(byKindOwner);
  releases.sort(byKindOwner);
  return { clusterIPs, nodePorts, claims, releases, problems };
}
