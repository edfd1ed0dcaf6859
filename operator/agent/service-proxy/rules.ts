import { createHash } from 'node:crypto';
import { parseIPv4 } from '../../model/ipv4.js';
import type { EndpointView, ServicePortView, ServiceView } from '../../services/types.js';

/**
 * The service proxy's rules, kube-proxy style, as text for `iptables-restore --noflush`. Pure:
 * the same services give the same text, byte for byte, so the adapter can skip a sync that
 * changes nothing.
 *
 * nat (traffic to a service is rewritten to one endpoint):
 * - PREFIX-SERVICES, jumped to from PREROUTING (containers) and OUTPUT (host processes): one
 *   rule per service port with a cluster IP, `-d IP/32 -p PROTO --dport PORT -j PREFIX-SVC-<hash>`,
 *   then, last, the jump to PREFIX-NODEPORTS for traffic to the node's own addresses.
 * - PREFIX-NODEPORTS: per node port, mark for masquerade, then `-j PREFIX-SVC-<hash>`.
 * - PREFIX-SVC-<hash>: one endpoint per new connection, `-m statistic --mode random
 *   --probability 1/(n-i)` (the last unconditional); with ClientIP affinity, first a
 *   `-m recent --rcheck` per endpoint that sends a known client back to its endpoint.
 * - PREFIX-SEP-<hash>: hairpin mark (a pod reaching itself through its service), then DNAT.
 * - PREFIX-MARK-MASQ sets MASQ_MARK; PREFIX-POSTROUTING masquerades marked packets (node ports
 *   reached from 127.0.0.1 or from another host, hairpin).
 *
 * filter (what nat cannot do):
 * - PREFIX-REJECT, jumped to for new connections from INPUT, FORWARD and OUTPUT: a service port
 *   without endpoints gets no nat rules at all and is rejected here (ICMP port unreachable, so a
 *   TCP client sees "connection refused" at once). Rejecting in filter rather than letting the
 *   packet run into the sink route matters: a packet that leaves unanswered leaves a confirmed
 *   conntrack entry without NAT behind, and the client's retransmissions would keep missing
 *   the endpoints that arrive later; a rejected packet's entry is never confirmed.
 * - PREFIX-FIREWALL (from INPUT): drops packets to 127.0.0.0/8 that come from elsewhere and were
 *   not DNATed, since `route_localnet=1` (node ports on 127.0.0.1) would otherwise let them in.
 *
 * Cluster IPs outside the service range get no rules: only the range has the sink route that
 * keeps service traffic on the machine.
 */

/** The default chain prefix; tests use their own so they never touch a running agent's chains. */
export const DEFAULT_CHAIN_PREFIX = 'BERTH';
/**
 * The packet mark bit that asks for masquerade. Docker 20.10 on a bridge network sets no marks
 * (swarm's ingress marks live in its own namespaces); 0x4000 is also kube-proxy's bit.
 */
export const MASQ_MARK = '0x4000';
/** Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds`. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** iptables' chain names are at most 28 characters. */
export const MAX_CHAIN_NAME_LENGTH = 28;

export interface ProxyRulesOptions {
  /** The service range (`10.96.0.0/16`); cluster IPs outside it get no rules. */
  readonly serviceCidr: string;
  /**
   * The addresses node ports answer on (127.0.0.0/8 is always added). Absent: every local
   * address of the host (`-m addrtype --dst-type LOCAL`), which is what Kubernetes does.
   */
  readonly nodeIPs?: readonly string[];
  /** Chain name prefix, 1 to 7 upper-case letters or digits; default BERTH. */
  readonly chainPrefix?: string;
  /**
   * Chains of the nat table that exist now (from `iptables-save -t nat`). Service and endpoint
   * chains among them that the services no longer need are deleted by the same restore.
   */
  readonly existingChains?: readonly string[];
}

/** The fixed chains of one prefix. */
export interface ProxyChains {
  readonly services: string;
  readonly nodePorts: string;
  readonly postrouting: string;
  readonly markMasq: string;
  readonly reject: string;
  readonly firewall: string;
}

export function proxyChains(prefix: string = DEFAULT_CHAIN_PREFIX): ProxyChains {
  checkPrefix(prefix);
  return {
    services: `${prefix}-SERVICES`,
    nodePorts: `${prefix}-NODEPORTS`,
    postrouting: `${prefix}-POSTROUTING`,
    markMasq: `${prefix}-MARK-MASQ`,
    reject: `${prefix}-REJECT`,
    firewall: `${prefix}-FIREWALL`,
  };
}

/** A rule in a built-in chain that sends traffic into berth's chains; the adapter keeps exactly one of each. */
export interface JumpRule {
  readonly table: 'nat' | 'filter';
  readonly chain: 'PREROUTING' | 'OUTPUT' | 'POSTROUTING' | 'INPUT' | 'FORWARD';
  /** The rule's arguments as `iptables -S` prints them. */
  readonly rule: readonly string[];
}

export function jumpRules(prefix: string = DEFAULT_CHAIN_PREFIX): readonly JumpRule[] {
  const c = proxyChains(prefix);
  const newOnly = ['-m', 'conntrack', '--ctstate', 'NEW'];
  return [
    { table: 'nat', chain: 'PREROUTING', rule: ['-j', c.services] },
    { table: 'nat', chain: 'OUTPUT', rule: ['-j', c.services] },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-j', c.postrouting] },
    { table: 'filter', chain: 'INPUT', rule: [...newOnly, '-j', c.reject] },
    { table: 'filter', chain: 'FORWARD', rule: [...newOnly, '-j', c.reject] },
    { table: 'filter', chain: 'OUTPUT', rule: [...newOnly, '-j', c.reject] },
    { table: 'filter', chain: 'INPUT', rule: ['-j', c.firewall] },
  ];
}

/** The chain of one service port: `PREFIX-SVC-` and 16 base32 characters of a sha256. */
export function serviceChainName(
  service: Pick<ServiceView, 'namespace' | 'name'>,
  port: Pick<ServicePortView, 'name' | 'protocol'>,
  prefix: string = DEFAULT_CHAIN_PREFIX,
): string {
  return `${prefix}-SVC-${shortHash(serviceKey(service, port))}`;
}

/** The chain of one endpoint of one service port. */
export function endpointChainName(
  service: Pick<ServiceView, 'namespace' | 'name'>,
  port: Pick<ServicePortView, 'name' | 'protocol'>,
  endpoint: { readonly ip: string; readonly port: number },
  prefix: string = DEFAULT_CHAIN_PREFIX,
): string {
  return `${prefix}-SEP-${shortHash(`${serviceKey(service, port)}/${endpoint.ip}:${endpoint.port}`)}`;
}

/** One service port as the rules see it. */
export interface ProgrammedPort {
  readonly service: ServiceView;
  readonly port: ServicePortView;
  readonly chain: string;
  /** The cluster IP, when the service has one inside the service range. */
  readonly clusterIP: string | undefined;
  readonly endpoints: readonly {
    readonly ip: string;
    readonly port: number;
    readonly chain: string;
  }[];
}

/** The service ports in rule order (namespace, name, then the service's own port order). */
export function programmedPorts(
  services: readonly ServiceView[],
  options: ProxyRulesOptions,
): readonly ProgrammedPort[] {
  const prefix = options.chainPrefix ?? DEFAULT_CHAIN_PREFIX;
  const range = parseCidr(options.serviceCidr);
  const sorted = [...services].sort((a, b) =>
    compareStrings(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
  );
  const out: ProgrammedPort[] = [];
  for (const service of sorted) {
    const ip = service.clusterIP;
    const clusterIP = ip !== undefined && ip !== 'None' && inCidr(ip, range) ? ip : undefined;
    for (const port of service.ports) {
      const endpoints = endpointsOf(service.endpoints, port).map((endpoint) => ({
        ...endpoint,
        chain: endpointChainName(service, port, endpoint, prefix),
      }));
      out.push({
        service,
        port,
        chain: serviceChainName(service, port, prefix),
        clusterIP,
        endpoints,
      });
    }
  }
  return out;
}

/** The nat table's text for `iptables-restore --noflush` (declaring a chain flushes it). */
export function natRules(services: readonly ServiceView[], options: ProxyRulesOptions): string {
  const prefix = options.chainPrefix ?? DEFAULT_CHAIN_PREFIX;
  const c = proxyChains(prefix);
  const ports = programmedPorts(services, options);

  const chains = new Set<string>();
  const servicesRules: string[] = [];
  const nodePortRules: string[] = [];
  const perService: string[] = [];
  const perEndpoint: string[] = [];

  for (const p of ports) {
    if (p.endpoints.length === 0) continue; // rejected in filter, see filterRules
    const proto = protoOf(p.port);
    const comment = `-m comment --comment "${portLabel(p)}"`;
    let used = false;
    if (p.clusterIP !== undefined) {
      servicesRules.push(
        `-A ${c.services} -d ${p.clusterIP}/32 -p ${proto} --dport ${p.port.port} ${comment} -j ${p.chain}`,
      );
      used = true;
    }
    if (hasNodePort(p)) {
      nodePortRules.push(
        `-A ${c.nodePorts} -p ${proto} --dport ${p.port.nodePort} ${comment} -j ${c.markMasq}`,
        `-A ${c.nodePorts} -p ${proto} --dport ${p.port.nodePort} ${comment} -j ${p.chain}`,
      );
      used = true;
    }
    if (!used) continue;
    chains.add(p.chain);

    const affinity = p.service.sessionAffinity === 'ClientIP';
    const seconds = p.service.affinityTimeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    if (affinity) {
      for (const ep of p.endpoints) {
        perService.push(
          `-A ${p.chain} -m recent --name ${ep.chain} --rcheck --seconds ${seconds} --reap -j ${ep.chain}`,
        );
      }
    }
    const n = p.endpoints.length;
    p.endpoints.forEach((ep, i) => {
      chains.add(ep.chain);
      const pick =
        i < n - 1 ? `-m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)} ` : '';
      perService.push(`-A ${p.chain} ${pick}-j ${ep.chain}`);
      perEndpoint.push(
        `-A ${ep.chain} -s ${ep.ip}/32 -j ${c.markMasq}`,
        `-A ${ep.chain} -p ${proto}${affinity ? ` -m recent --name ${ep.chain} --set` : ''} -j DNAT --to-destination ${ep.ip}:${ep.port}`,
      );
    });
  }

  for (const destination of nodePortDestinations(options)) {
    servicesRules.push(`-A ${c.services} ${destination} -j ${c.nodePorts}`);
  }

  const wanted = [...chains].sort(compareStrings);
  const stale = (options.existingChains ?? [])
    .filter((name) => isServiceOrEndpointChain(name, prefix) && !chains.has(name))
    .sort(compareStrings);
  const stalePlusWanted = [...wanted, ...stale];

  return [
    '*nat',
    ...[c.services, c.nodePorts, c.postrouting, c.markMasq, ...stalePlusWanted].map(
      (name) => `:${name} - [0:0]`,
    ),
    `-A ${c.postrouting} -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
    // Cleared so a packet that loops through the stack again is not masqueraded twice.
    `-A ${c.postrouting} -j MARK --xor-mark ${MASQ_MARK}`,
    `-A ${c.postrouting} -j MASQUERADE`,
    `-A ${c.markMasq} -j MARK --or-mark ${MASQ_MARK}`,
    ...servicesRules,
    ...nodePortRules,
    ...perService,
    ...perEndpoint,
    ...stale.map((name) => `-X ${name}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** The filter table's text: rejects for service ports without endpoints, the 127/8 guard. */
export function filterRules(services: readonly ServiceView[], options: ProxyRulesOptions): string {
  const c = proxyChains(options.chainPrefix ?? DEFAULT_CHAIN_PREFIX);
  const rejects: string[] = [];
  for (const p of programmedPorts(services, options)) {
    if (p.endpoints.length > 0) continue;
    const proto = protoOf(p.port);
    const comment = `-m comment --comment "${portLabel(p)} has no endpoints"`;
    const reject = '-j REJECT --reject-with icmp-port-unreachable';
    if (p.clusterIP !== undefined) {
      rejects.push(
        `-A ${c.reject} -d ${p.clusterIP}/32 -p ${proto} --dport ${p.port.port} ${comment} ${reject}`,
      );
    }
    if (hasNodePort(p)) {
      for (const destination of nodePortDestinations(options)) {
        rejects.push(
          `-A ${c.reject} ${destination} -p ${proto} --dport ${p.port.nodePort} ${comment} ${reject}`,
        );
      }
    }
  }
  return [
    '*filter',
    `:${c.reject} - [0:0]`,
    `:${c.firewall} - [0:0]`,
    `-A ${c.firewall} ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    ...rejects,
    'COMMIT',
    '',
  ].join('\n');
}

/** Both tables, one input for one `iptables-restore --noflush`. */
export function proxyRules(services: readonly ServiceView[], options: ProxyRulesOptions): string {
  return natRules(services, options) + filterRules(services, options);
}

/** The chain names an `iptables-save` text declares (`:NAME POLICY [p:b]`). */
export function declaredChains(saveText: string): readonly string[] {
  const out: string[] = [];
  for (const line of saveText.split('\n')) {
    const match = /^:(\S+) /.exec(line);
    if (match?.[1] !== undefined) out.push(match[1]);
  }
  return out;
}

/** Every chain of a prefix in an `iptables-save` text (fixed, service and endpoint chains). */
export function ownChains(
  saveText: string,
  prefix: string = DEFAULT_CHAIN_PREFIX,
): readonly string[] {
  return declaredChains(saveText).filter((name) => name.startsWith(`${prefix}-`));
}

/** Checks a CIDR (`a.b.c.d/n`) and gives its network and prefix length. */
export function parseCidr(cidr: string): { readonly network: number; readonly bits: number } {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  const address = match?.[1] === undefined ? undefined : ipv4ToNumber(match[1]);
  const bits = Number(match?.[2]);
  if (address === undefined || !(bits >= 0 && bits <= 32)) {
    throw new Error(`not an IPv4 CIDR: ${cidr}`);
  }
  return { network: (address & maskOf(bits)) >>> 0, bits };
}

/** True when two CIDRs share an address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const mask = maskOf(Math.min(x.bits, y.bits));
  return (x.network & mask) >>> 0 === (y.network & mask) >>> 0;
}

/** An IPv4 address as a number (undefined when it is none). */
export const ipv4ToNumber = parseIPv4;

function inCidr(ip: string, range: { network: number; bits: number }): boolean {
  const value = ipv4ToNumber(ip);
  return value !== undefined && (value & maskOf(range.bits)) >>> 0 === range.network;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function endpointsOf(
  endpoints: readonly EndpointView[],
  port: ServicePortView,
): readonly { readonly ip: string; readonly port: number }[] {
  const seen = new Map<string, { ip: string; port: number }>();
  for (const endpoint of endpoints) {
    const target = endpoint.ports[port.name];
    if (target === undefined || ipv4ToNumber(endpoint.ip) === undefined) continue;
    seen.set(`${endpoint.ip}:${target}`, { ip: endpoint.ip, port: target });
  }
  return [...seen.values()].sort(
    (a, b) => (ipv4ToNumber(a.ip) ?? 0) - (ipv4ToNumber(b.ip) ?? 0) || a.port - b.port,
  );
}

/** The destination matches of node port traffic: every local address, or the node IPs and 127/8. */
function nodePortDestinations(options: ProxyRulesOptions): readonly string[] {
  if (options.nodeIPs === undefined) return ['-m addrtype --dst-type LOCAL'];
  return [
    ...[...new Set(options.nodeIPs)].sort(compareStrings).map((ip) => `-d ${ip}/32`),
    '-d 127.0.0.0/8',
  ];
}

function hasNodePort(p: ProgrammedPort): boolean {
  return p.service.type !== 'ClusterIP' && p.port.nodePort !== undefined;
}

function protoOf(port: ServicePortView): 'tcp' | 'udp' {
  return port.protocol === 'UDP' ? 'udp' : 'tcp';
}

function portLabel(p: ProgrammedPort): string {
  const name = p.port.name === '' ? '' : `:${p.port.name}`;
  return `${p.service.namespace}/${p.service.name}${name}`;
}

function serviceKey(
  service: Pick<ServiceView, 'namespace' | 'name'>,
  port: Pick<ServicePortView, 'name' | 'protocol'>,
): string {
  return `${service.namespace}/${service.name}:${port.name}/${port.protocol.toLowerCase()}`;
}

function isServiceOrEndpointChain(name: string, prefix: string): boolean {
  return name.startsWith(`${prefix}-SVC-`) || name.startsWith(`${prefix}-SEP-`);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 16 base32 characters (80 bits) of the sha256 of `text`. */
export function shortHash(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of digest) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length === 16) break;
  }
  return out;
}

function checkPrefix(prefix: string): void {
  if (!/^[A-Z0-9]{1,7}$/.test(prefix)) {
    throw new Error(`chain prefix must be 1 to 7 upper-case letters or digits: ${prefix}`);
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
