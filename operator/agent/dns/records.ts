import { CLUSTER_DOMAIN, type ServiceView } from '../../services/types.js';

/**
 * The cluster's DNS records, computed from the services a node carries (Kubernetes' DNS
 * specification for Services, v1): pure data in, a lookup out. The server builds one table per
 * update and answers every query from it in memory.
 *
 * - `svc.ns.svc.DOMAIN` A: the cluster IP; for a headless service every ready endpoint's IP.
 * - `_port._proto.svc.ns.svc.DOMAIN` SRV for each named port: the service name and port, or for
 *   a headless service one record per ready endpoint (its own name and the pod's port).
 * - `a-b-c-d.svc.ns.svc.DOMAIN` A for each ready endpoint of a headless service (the SRV targets).
 * - PTR for cluster IPs and headless endpoints.
 * - Other names under DOMAIN: NXDOMAIN (names above existing ones: no data), with the zone's SOA.
 *
 * Only full names are answered: a pod's search path (`ns.svc.DOMAIN`, `svc.DOMAIN`, `DOMAIN`, with
 * `ndots:5`) turns `svc`, `svc.ns` and `svc.ns.svc` into full names before they reach the server.
 */

/** Endpoints change: resolvers must not keep answers (or their absence) for long. */
export const DNS_TTL_SECONDS = 5;

export interface SoaData {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export type DnsRecord =
  | {
      readonly type: 'A' | 'AAAA' | 'PTR';
      readonly name: string;
      readonly ttl: number;
      readonly data: string;
    }
  | { readonly type: 'SRV'; readonly name: string; readonly ttl: number; readonly data: SrvData }
  | { readonly type: 'SOA'; readonly name: string; readonly ttl: number; readonly data: SoaData };

export type DnsRcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED';

export interface DnsLookup {
  readonly rcode: DnsRcode;
  /** True for names of the cluster domain (and reverse names of cluster addresses). */
  readonly authoritative: boolean;
  readonly answers: readonly DnsRecord[];
  /** The zone's SOA on a negative answer (NXDOMAIN or no data), for negative caching. */
  readonly authorities: readonly DnsRecord[];
  /** Addresses of SRV targets. */
  readonly additionals: readonly DnsRecord[];
}

/** Names of the host's hosts file, lower-cased, to their addresses. */
export interface HostsTable {
  readonly v4: ReadonlyMap<string, readonly string[]>;
  readonly v6: ReadonlyMap<string, readonly string[]>;
}

export const EMPTY_HOSTS: HostsTable = { v4: new Map(), v6: new Map() };

export interface DnsRecords {
  /** The cluster domain, lower-case, without a trailing dot. */
  readonly domain: string;
  /** The answer to one question; `name` in any case, with or without the trailing dot. */
  answer(name: string, type: string): DnsLookup;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]*:[0-9a-f:.]*$/i;

function isIPv4(value: string): boolean {
  return IPV4.test(value);
}

/** Lower-case, no trailing dot: the key every table uses. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** `10.0.0.1` -> `1.0.0.10.in-addr.arpa`. */
function reverseName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** An endpoint's own name under a headless service: its address with dashes (as CoreDNS does). */
function endpointLabel(ip: string): string {
  return ip.replace(/[.:]/g, '-').toLowerCase();
}

/**
 * Reads a hosts file (`ADDRESS NAME [ALIAS...]`, `#` comments). Names outside the cluster domain
 * are answered from it, as a pod's resolver on the host would; nothing is forwarded.
 */
export function parseHosts(text: string): HostsTable {
  const v4 = new Map<string, string[]>();
  const v6 = new Map<string, string[]>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [address, ...names] = line.split(/\s+/);
    if (address === undefined || names.length === 0) continue;
    const table = isIPv4(address) ? v4 : IPV6.test(address) ? v6 : undefined;
    if (table === undefined) continue;
    for (const name of names) {
      const key = canonicalName(name);
      const list = table.get(key) ?? [];
      if (!list.includes(address)) list.push(address);
      table.set(key, list);
    }
  }
  return { v4, v6 };
}

function addressRecord(name: string, ip: string): DnsRecord {
  return { type: isIPv4(ip) ? 'A' : 'AAAA', name, ttl: DNS_TTL_SECONDS, data: ip };
}

function withName(record: DnsRecord, name: string): DnsRecord {
  return { ...record, name } as DnsRecord;
}

/** Builds the lookup for `services` under `domain` (names outside it come from `hosts`). */
export function dnsRecords(
  services: readonly ServiceView[],
  domain: string = CLUSTER_DOMAIN,
  hosts: HostsTable = EMPTY_HOSTS,
): DnsRecords {
  const zone = canonicalName(domain);
  const records = new Map<string, DnsRecord[]>();
  /** Names that exist because something exists below them (empty non-terminals). */
  const parents = new Set<string>();
  /** Reverse names are ours only for the addresses we hand out. */
  const reverse = new Map<string, DnsRecord[]>();

  const add = (table: Map<string, DnsRecord[]>, record: DnsRecord): void => {
    const list = table.get(record.name) ?? [];
    const same = list.some(
      (other) =>
        other.type === record.type && JSON.stringify(other.data) === JSON.stringify(record.data),
    );
    if (!same) list.push(record);
    table.set(record.name, list);
  };
  const addName = (record: DnsRecord): void => {
    add(records, record);
    let parent = record.name;
    while (parent !== zone) {
      const dot = parent.indexOf('.');
      if (dot < 0) break;
      parent = parent.slice(dot + 1);
      parents.add(parent);
    }
  };
  const addReverse = (ip: string, target: string): void => {
    if (isIPv4(ip))
      add(reverse, { type: 'PTR', name: reverseName(ip), ttl: DNS_TTL_SECONDS, data: target });
  };

  const soa: DnsRecord = {
    type: 'SOA',
    name: zone,
    ttl: DNS_TTL_SECONDS,
    data: {
      mname: `ns.dns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: DNS_TTL_SECONDS,
    },
  };
  add(records, soa);

  for (const service of services) {
    const serviceName = `${service.name}.${service.namespace}.svc.${zone}`.toLowerCase();
    // A service exists even with no address to give (headless without ready endpoints).
    parents.add(serviceName);
    for (const parent of [`${service.namespace}.svc.${zone}`.toLowerCase(), `svc.${zone}`]) {
      parents.add(parent);
    }
    const headless = service.clusterIP === undefined;
    if (!headless && service.clusterIP !== undefined) {
      addName(addressRecord(serviceName, service.clusterIP));
      addReverse(service.clusterIP, serviceName);
    } else {
      const weight = Math.max(1, Math.floor(100 / Math.max(1, service.endpoints.length)));
      for (const endpoint of service.endpoints) {
        const endpointName = `${endpointLabel(endpoint.ip)}.${serviceName}`;
        addName(addressRecord(serviceName, endpoint.ip));
        addName(addressRecord(endpointName, endpoint.ip));
        addReverse(endpoint.ip, endpointName);
        for (const port of service.ports) {
          const podPort = endpoint.ports[port.name];
          if (port.name === '' || podPort === undefined) continue;
          addName({
            type: 'SRV',
            name: `_${port.name}._${port.protocol}.${serviceName}`.toLowerCase(),
            ttl: DNS_TTL_SECONDS,
            data: { priority: 0, weight, port: podPort, target: endpointName },
          });
        }
      }
    }
    if (!headless) {
      for (const port of service.ports) {
        if (port.name === '') continue;
        addName({
          type: 'SRV',
          name: `_${port.name}._${port.protocol}.${serviceName}`.toLowerCase(),
          ttl: DNS_TTL_SECONDS,
          data: { priority: 0, weight: 100, port: port.port, target: serviceName },
        });
      }
    }
  }

  const matching = (list: readonly DnsRecord[], type: string): DnsRecord[] =>
    list.filter((record) => type === 'ANY' || record.type === type);

  const noData = (authoritative: boolean): DnsLookup => ({
    rcode: 'NOERROR',
    authoritative,
    answers: [],
    authorities: authoritative ? [soa] : [],
    additionals: [],
  });

  const refused: DnsLookup = {
    rcode: 'REFUSED',
    authoritative: false,
    answers: [],
    authorities: [],
    additionals: [],
  };

  return {
    domain: zone,
    answer(name: string, rawType: string): DnsLookup {
      const key = canonicalName(name);
      const type = rawType.toUpperCase();
      const owner = name.endsWith('.') ? name.slice(0, -1) : name;
      if (key === zone || key.endsWith(`.${zone}`)) {
        const list = records.get(key);
        if (list === undefined) {
          if (parents.has(key)) return noData(true);
          return {
            rcode: 'NXDOMAIN',
            authoritative: true,
            answers: [],
            authorities: [soa],
            additionals: [],
          };
        }
        // Answers carry the name as asked, so resolvers matching case (DNS 0x20) accept them.
        const answers = matching(list, type).map((record) => withName(record, owner));
        if (answers.length === 0) return noData(true);
        const additionals: DnsRecord[] = [];
        for (const answer of answers) {
          if (answer.type !== 'SRV') continue;
          for (const target of records.get(answer.data.target) ?? []) {
            if (target.type === 'A' || target.type === 'AAAA') additionals.push(target);
          }
        }
        return { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals };
      }
      const pointers = reverse.get(key);
      if (pointers !== undefined) {
        const answers = matching(pointers, type).map((record) => withName(record, owner));
        return answers.length === 0
          ? noData(false)
          : { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals: [] };
      }
      const v4 = hosts.v4.get(key);
      const v6 = hosts.v6.get(key);
      if (v4 !== undefined || v6 !== undefined) {
        const answers = [
          ...(type === 'A' || type === 'ANY' ? (v4 ?? []) : []),
          ...(type === 'AAAA' || type === 'ANY' ? (v6 ?? []) : []),
        ].map((ip) => addressRecord(owner, ip));
        return {
          rcode: 'NOERROR',
          authoritative: false,
          answers,
          authorities: [],
          additionals: [],
        };
      }
      // Nothing is forwarded off the machine. REFUSED rather than NXDOMAIN: the name may well
      // exist, this server only declines to look it up; NXDOMAIN would claim it does not exist
      // and be cached as such, and REFUSED lets a resolver with another nameserver try that one.
      return refused;
    },
  };
}
