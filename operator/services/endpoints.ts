/**
 * A service's endpoints, as Kubernetes' endpoints controller computes them: the ready pods its
 * selector matches, each with the pod port every service port goes to; the ServiceView the
 * operator hands the nodes; and the v1 Endpoints object and ENDPOINTS column `berth get`
 * shows. Pure.
 */

import type { PodStatusReport } from '../agent/lifecycle/status-types.js';
import { DEFAULT_CLIENT_IP_TIMEOUT_SECONDS, DEFAULT_NAMESPACE } from '../manifests/defaults.js';
import type { Pod, Service, ServicePort as V1ServicePort } from '../model/generated/types.js';
import { mapSelectorMatches } from '../model/labels.js';
import type { EndpointView, ServicePortView, ServiceProtocol, ServiceView } from './types.js';

/** A pod the operator knows of, with the node it is assigned to and its last status report. */
export interface PodOnNode {
  readonly pod: Pod;
  readonly node: string;
  readonly status?: PodStatusReport;
}

function namespaceOf(meta: { readonly namespace?: string }): string {
  return meta.namespace === undefined || meta.namespace === '' ? DEFAULT_NAMESPACE : meta.namespace;
}

/** The key a service port has in EndpointView.ports and ServiceView.ports: its name, or ''. */
export function servicePortName(port: V1ServicePort): string {
  return port.name ?? '';
}

function protocolOf(protocol: string | undefined): string {
  return protocol === undefined || protocol === '' ? 'TCP' : protocol;
}

/** True when the pod is Running and its Ready condition is True. */
export function isPodReady(status: PodStatusReport | undefined): boolean {
  if (status === undefined || status.phase !== 'Running') return false;
  return status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * The pod port a service port goes to (Kubernetes' FindPort): a number as it is, a name
 * looked up among the pod's containers' ports of the same protocol, none when the name is
 * not there. An absent targetPort is the service port.
 */
export function resolveTargetPort(pod: Pod, port: V1ServicePort): number | undefined {
  const target = port.targetPort;
  if (target === undefined || target === '' || target === 0) return port.port;
  if (typeof target === 'number') return target;
  // A numeric string is a number (IntOrString written as text).
  if (/^[0-9]+$/.test(target)) return Number(target);
  const protocol = protocolOf(port.protocol);
  for (const container of pod.spec.containers) {
    for (const containerPort of container.ports ?? []) {
      if (containerPort.name === target && protocolOf(containerPort.protocol) === protocol) {
        return containerPort.containerPort;
      }
    }
  }
  return undefined;
}

function compareIPs(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  if (pa.length === 4 && pb.length === 4 && [...pa, ...pb].every(Number.isInteger)) {
    for (let i = 0; i < 4; i++) {
      const d = (pa[i] ?? 0) - (pb[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareEndpoints(a: EndpointView, b: EndpointView): number {
  const byIP = compareIPs(a.ip, b.ip);
  if (byIP !== 0) return byIP;
  return a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0;
}

/**
 * The ready endpoints of a service: pods of its namespace that its selector matches, Running
 * and Ready with an address (with `publishNotReadyAddresses`, every pod with an address that
 * has not finished or is not being deleted), each service port resolved per pod. A pod whose
 * named targetPort does not resolve is left out for that port; a pod with no port at all is
 * no endpoint (unless the service has no ports, as a headless service may). A service without
 * a selector has none. Sorted by address.
 *
 * Every pod is looked at; for many services over the same pods, `indexPods` once and
 * `indexedReadyEndpoints` per service give the same endpoints.
 */
export function readyEndpoints(service: Service, pods: readonly PodOnNode[]): EndpointView[] {
  const selector = service.spec.selector;
  if (selector === undefined || Object.keys(selector).length === 0) return [];
  const namespace = namespaceOf(service.metadata);
  const endpoints: EndpointView[] = [];
  for (const candidate of pods) {
    if (namespaceOf(candidate.pod.metadata) !== namespace) continue;
    if (!mapSelectorMatches(selector, candidate.pod.metadata.labels)) continue;
    const endpoint = endpointOf(service, namespace, candidate);
    if (endpoint !== undefined) endpoints.push(endpoint);
  }
  return endpoints.sort(compareEndpoints);
}

/** The endpoint a pod the selector matches gives the service, if it is one. */
function endpointOf(
  service: Service,
  namespace: string,
  { pod, node, status }: PodOnNode,
): EndpointView | undefined {
  const ip = status?.podIP;
  if (ip === undefined || ip === '') return undefined;
  if (service.spec.publishNotReadyAddresses === true) {
    if (status?.phase === 'Succeeded' || status?.phase === 'Failed') return undefined;
    if (pod.metadata.deletionTimestamp !== undefined) return undefined;
  } else if (!isPodReady(status) || pod.metadata.deletionTimestamp !== undefined) {
    return undefined;
  }
  const servicePorts = service.spec.ports ?? [];
  const ports: Record<string, number> = {};
  let resolved = 0;
  for (const servicePort of servicePorts) {
    const target = resolveTargetPort(pod, servicePort);
    if (target === undefined) continue;
    ports[servicePortName(servicePort)] = target;
    resolved += 1;
  }
  if (servicePorts.length > 0 && resolved === 0) return undefined;
  return { ip, pod: `${namespace}/${pod.metadata.name ?? ''}`, node, ports };
}

/**
 * Pods by namespace, then label key, then label value, each list in the pods' order: made
 * once for a set of pods, it answers any number of selectors without looking at every pod.
 */
export interface PodIndex {
  readonly byNamespace: ReadonlyMap<
    string,
    ReadonlyMap<string, ReadonlyMap<string | undefined, PodOnNode[]>>
  >;
}

export function indexPods(pods: readonly PodOnNode[]): PodIndex {
  const byNamespace = new Map<string, Map<string, Map<string | undefined, PodOnNode[]>>>();
  for (const candidate of pods) {
    const labels = candidate.pod.metadata.labels;
    if (labels === undefined) continue;
    const namespace = namespaceOf(candidate.pod.metadata);
    let byKey = byNamespace.get(namespace);
    if (byKey === undefined) {
      byKey = new Map();
      byNamespace.set(namespace, byKey);
    }
    for (const key of Object.keys(labels)) {
      // Kept as it is (a string once validated): a selector's value finds it as === would.
      const value = labels[key];
      let byValue = byKey.get(key);
      if (byValue === undefined) {
        byValue = new Map();
        byKey.set(key, byValue);
      }
      const list = byValue.get(value);
      if (list === undefined) byValue.set(value, [candidate]);
      else list.push(candidate);
    }
  }
  return { byNamespace };
}

/**
 * `readyEndpoints(service, pods)` for the pods `index` was made from: the candidates are the
 * shortest of the selector's `key=value` lists, each then matched against the whole selector.
 */
export function indexedReadyEndpoints(service: Service, index: PodIndex): EndpointView[] {
  const selector = service.spec.selector;
  if (selector === undefined) return [];
  const requirements = Object.keys(selector);
  if (requirements.length === 0) return [];
  const namespace = namespaceOf(service.metadata);
  const byKey = index.byNamespace.get(namespace);
  if (byKey === undefined) return [];
  let candidates: readonly PodOnNode[] | undefined;
  for (const key of requirements) {
    const list = byKey.get(key)?.get(selector[key]);
    if (list === undefined) return [];
    if (candidates === undefined || list.length < candidates.length) candidates = list;
  }
  const endpoints: EndpointView[] = [];
  for (const candidate of candidates ?? []) {
    if (requirements.length > 1 && !mapSelectorMatches(selector, candidate.pod.metadata.labels)) {
      continue;
    }
    const endpoint = endpointOf(service, namespace, candidate);
    if (endpoint !== undefined) endpoints.push(endpoint);
  }
  return endpoints.sort(compareEndpoints);
}

function serviceProtocol(protocol: string | undefined): ServiceProtocol {
  // SCTP passes validation but berth carries TCP and UDP only; callers see it as TCP here.
  return protocol === 'UDP' ? 'UDP' : 'TCP';
}

/**
 * What a node needs of one service. `nodePorts` (port name -> node port) is used for NodePort
 * and LoadBalancer services only. Returns undefined for type ExternalName, which carries no
 * traffic through berth.
 */
export function serviceView(
  service: Service,
  clusterIP: string | undefined,
  nodePorts: Readonly<Record<string, number>>,
  endpoints: readonly EndpointView[],
): ServiceView | undefined {
  const spec = service.spec;
  const type = spec.type ?? 'ClusterIP';
  if (type === 'ExternalName') return undefined;
  const exposesNodePorts = type === 'NodePort' || type === 'LoadBalancer';
  const ports: ServicePortView[] = (spec.ports ?? []).map((port) => {
    const name = servicePortName(port);
    const nodePort = exposesNodePorts ? nodePorts[name] : undefined;
    return {
      name,
      protocol: serviceProtocol(port.protocol),
      port: port.port,
      ...(nodePort === undefined ? {} : { nodePort }),
    };
  });
  const sessionAffinity = spec.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None';
  const headless = spec.clusterIP === 'None';
  return {
    namespace: namespaceOf(service.metadata),
    name: service.metadata.name ?? '',
    type,
    ...(clusterIP === undefined || headless ? {} : { clusterIP }),
    sessionAffinity,
    ...(sessionAffinity === 'ClientIP'
      ? {
          affinityTimeoutSeconds:
            spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ??
            DEFAULT_CLIENT_IP_TIMEOUT_SECONDS,
        }
      : {}),
    ports,
    endpoints: [...endpoints].sort(compareEndpoints),
  };
}

// ---------------------------------------------------------------------------------------------
// v1 Endpoints

export interface V1EndpointAddress {
  ip: string;
  nodeName: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string };
}

export interface V1EndpointPort {
  name?: string;
  port: number;
  protocol: ServiceProtocol;
}

export interface V1EndpointSubset {
  addresses: V1EndpointAddress[];
  ports?: V1EndpointPort[];
}

export interface V1Endpoints {
  apiVersion: 'v1';
  kind: 'Endpoints';
  metadata: { name: string; namespace: string };
  subsets?: V1EndpointSubset[];
}

function addressOf(endpoint: EndpointView): V1EndpointAddress {
  const slash = endpoint.pod.indexOf('/');
  return {
    ip: endpoint.ip,
    nodeName: endpoint.node,
    targetRef: {
      kind: 'Pod',
      namespace: slash === -1 ? '' : endpoint.pod.slice(0, slash),
      name: slash === -1 ? endpoint.pod : endpoint.pod.slice(slash + 1),
    },
  };
}

function comparePorts(a: V1EndpointPort, b: V1EndpointPort): number {
  const an = a.name ?? '';
  const bn = b.name ?? '';
  if (an !== bn) return an < bn ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0;
}

/**
 * The v1 Endpoints object of a service (`berth get endpoints -o yaml`), packed as
 * Kubernetes' RepackSubsets does: each distinct endpoint port (name, number, protocol) maps to
 * the addresses that offer it, and ports offered by the same addresses share one subset. So
 * pods whose named targetPort resolves to different numbers land in different subsets.
 * Addresses are sorted by IP, ports by name then number, subsets by their first address.
 * No subsets when there are no endpoints (kubectl prints `<none>`).
 */
export function toV1Endpoints(view: ServiceView): V1Endpoints {
  const metadata = { name: view.name, namespace: view.namespace };
  const endpoints = [...view.endpoints].sort(compareEndpoints);
  if (endpoints.length === 0) return { apiVersion: 'v1', kind: 'Endpoints', metadata };
  const protocolByName = new Map(view.ports.map((p) => [p.name, p.protocol] as const));
  // Port -> the indices of the endpoints offering it.
  const byPort = new Map<string, { port: V1EndpointPort; members: number[] }>();
  const noPorts: number[] = [];
  endpoints.forEach((endpoint, index) => {
    const names = Object.keys(endpoint.ports).filter((name) => protocolByName.has(name));
    if (names.length === 0) {
      noPorts.push(index);
      return;
    }
    for (const name of names) {
      const number = endpoint.ports[name] ?? 0;
      const protocol = protocolByName.get(name) ?? 'TCP';
      const key = `${name}\u0000${number}\u0000${protocol}`;
      let entry = byPort.get(key);
      if (entry === undefined) {
        entry = {
          port: { ...(name === '' ? {} : { name }), port: number, protocol },
          members: [],
        };
        byPort.set(key, entry);
      }
      entry.members.push(index);
    }
  });
  // Address set -> the ports it offers.
  const groups = new Map<string, { members: number[]; ports: V1EndpointPort[] }>();
  for (const { port, members } of byPort.values()) {
    const key = members.join(',');
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { members, ports: [port] });
    else group.ports.push(port);
  }
  const subsets: { first: number; subset: V1EndpointSubset }[] = [];
  for (const { members, ports } of groups.values()) {
    subsets.push({
      first: members[0] ?? 0,
      subset: {
        addresses: members.map((i) => addressOf(endpoints[i] as EndpointView)),
        ports: ports.sort(comparePorts),
      },
    });
  }
  if (noPorts.length > 0) {
    subsets.push({
      first: noPorts[0] ?? 0,
      subset: { addresses: noPorts.map((i) => addressOf(endpoints[i] as EndpointView)) },
    });
  }
  subsets.sort((a, b) => {
    if (a.first !== b.first) return a.first - b.first;
    const pa = a.subset.ports ?? [];
    const pb = b.subset.ports ?? [];
    for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
      const d = comparePorts(pa[i] as V1EndpointPort, pb[i] as V1EndpointPort);
      if (d !== 0) return d;
    }
    return pa.length - pb.length;
  });
  return { apiVersion: 'v1', kind: 'Endpoints', metadata, subsets: subsets.map((s) => s.subset) };
}

/** At most this many `ip:port` entries in the ENDPOINTS column, as kubectl prints. */
export const ENDPOINTS_COLUMN_MAX = 3;

/**
 * The ENDPOINTS column of `kubectl get endpoints` (kubectl's formatEndpoints): `ip:port`
 * for each subset's ports and addresses, at most three, then ` + N more...`; bare addresses
 * for a subset without ports; `<none>` without endpoints.
 */
export function endpointsColumn(view: ServiceView): string {
  const subsets = toV1Endpoints(view).subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  let count = 0;
  for (const subset of subsets) {
    const ports = subset.ports ?? [];
    if (ports.length === 0) {
      count += subset.addresses.length;
      for (const address of subset.addresses) {
        if (list.length === ENDPOINTS_COLUMN_MAX) break;
        list.push(address.ip);
      }
      continue;
    }
    for (const port of ports) {
      count += subset.addresses.length;
      for (const address of subset.addresses) {
        if (list.length === ENDPOINTS_COLUMN_MAX) break;
        list.push(`${address.ip}:${port.port}`);
      }
    }
  }
  const text = list.join(',');
  return count > ENDPOINTS_COLUMN_MAX ? `${text} + ${count - ENDPOINTS_COLUMN_MAX} more...` : text;
}
