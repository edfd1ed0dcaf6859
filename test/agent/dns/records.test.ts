import { describe, expect, it } from 'vitest';
import {
  DNS_TTL_SECONDS,
  type DnsLookup,
  dnsRecords,
  parseHosts,
} from '../../../operator/agent/dns/records.js';
import type { EndpointView, ServiceView } from '../../../operator/services/types.js';

function endpoint(ip: string, pod: string, ports: Record<string, number>): EndpointView {
  return { ip, pod: `default/${pod}`, node: 'node-1', ports };
}

const web: ServiceView = {
  namespace: 'default',
  name: 'web',
  type: 'ClusterIP',
  clusterIP: '10.96.0.10',
  sessionAffinity: 'None',
  ports: [
    { name: 'http', protocol: 'TCP', port: 80 },
    { name: 'metrics', protocol: 'TCP', port: 9100 },
  ],
  endpoints: [endpoint('172.17.0.5', 'web-a', { http: 8080, metrics: 9100 })],
};

const db: ServiceView = {
  namespace: 'shop',
  name: 'db',
  type: 'ClusterIP',
  sessionAffinity: 'None',
  ports: [{ name: 'mysql', protocol: 'TCP', port: 3306 }],
  endpoints: [
    endpoint('172.17.0.7', 'db-0', { mysql: 3306 }),
    endpoint('172.17.0.8', 'db-1', { mysql: 3307 }),
  ],
};

const unnamed: ServiceView = {
  namespace: 'default',
  name: 'plain',
  type: 'NodePort',
  clusterIP: '10.96.0.11',
  sessionAffinity: 'None',
  ports: [{ name: '', protocol: 'UDP', port: 53, nodePort: 30053 }],
  endpoints: [],
};

const emptyHeadless: ServiceView = { ...db, name: 'idle', endpoints: [] };

const hosts = parseHosts(
  [
    '# comment',
    '127.0.0.1\tlocalhost',
    '::1 localhost ip6-localhost',
    '192.168.1.20  Builder.example builder # trailing comment',
    'not-an-address nothing',
    '',
  ].join('\n'),
);

const records = dnsRecords([web, db, unnamed, emptyHeadless], 'cluster.local', hosts);

function summary(lookup: DnsLookup): { rcode: string; aa: boolean; data: unknown[] } {
  return {
    rcode: lookup.rcode,
    aa: lookup.authoritative,
    data: lookup.answers.map((answer) => answer.data),
  };
}

describe('dnsRecords', () => {
  it.each([
    // service names, full form, any case, trailing dot or not
    ['web.default.svc.cluster.local', 'A', 'NOERROR', ['10.96.0.10']],
    ['WEB.Default.SVC.cluster.LOCAL.', 'A', 'NOERROR', ['10.96.0.10']],
    ['plain.default.svc.cluster.local', 'A', 'NOERROR', ['10.96.0.11']],
    // headless: every ready endpoint, and each endpoint's own name
    ['db.shop.svc.cluster.local', 'A', 'NOERROR', ['172.17.0.7', '172.17.0.8']],
    ['172-17-0-8.db.shop.svc.cluster.local', 'A', 'NOERROR', ['172.17.0.8']],
    // the name exists but has no record of that type: no data, not NXDOMAIN
    ['web.default.svc.cluster.local', 'AAAA', 'NOERROR', []],
    ['idle.shop.svc.cluster.local', 'A', 'NOERROR', []],
    ['default.svc.cluster.local', 'A', 'NOERROR', []],
    ['svc.cluster.local', 'A', 'NOERROR', []],
    ['_http._tcp.web.default.svc.cluster.local', 'A', 'NOERROR', []],
    // SRV for named ports
    [
      '_http._tcp.web.default.svc.cluster.local',
      'SRV',
      'NOERROR',
      [{ priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' }],
    ],
    [
      '_metrics._TCP.web.default.svc.cluster.local',
      'SRV',
      'NOERROR',
      [{ priority: 0, weight: 100, port: 9100, target: 'web.default.svc.cluster.local' }],
    ],
    [
      '_mysql._tcp.db.shop.svc.cluster.local',
      'SRV',
      'NOERROR',
      [
        { priority: 0, weight: 50, port: 3306, target: '172-17-0-7.db.shop.svc.cluster.local' },
        { priority: 0, weight: 50, port: 3307, target: '172-17-0-8.db.shop.svc.cluster.local' },
      ],
    ],
    // names search paths produce that are not services
    ['web.default.default.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['web.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['web.cluster.local', 'A', 'NXDOMAIN', []],
    ['web.other.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['_http._udp.web.default.svc.cluster.local', 'SRV', 'NXDOMAIN', []],
    ['_.web.default.svc.cluster.local', 'SRV', 'NXDOMAIN', []],
    ['google.com.default.svc.cluster.local', 'A', 'NXDOMAIN', []],
    // reverse names of the addresses the cluster hands out
    ['10.0.96.10.in-addr.arpa', 'PTR', 'NOERROR', ['web.default.svc.cluster.local']],
    ['7.0.17.172.in-addr.arpa', 'PTR', 'NOERROR', ['172-17-0-7.db.shop.svc.cluster.local']],
  ] as const)('%s %s -> %s %j', (name, type, rcode, data) => {
    const lookup = records.answer(name, type);
    expect(summary(lookup)).toEqual({ rcode, aa: true, data });
  });

  it('answers with the name as asked, a 5 s TTL, and the SOA on negative answers', () => {
    const hit = records.answer('Web.Default.svc.cluster.local.', 'A');
    expect(hit.answers).toEqual([
      {
        type: 'A',
        name: 'Web.Default.svc.cluster.local',
        ttl: DNS_TTL_SECONDS,
        data: '10.96.0.10',
      },
    ]);
    expect(DNS_TTL_SECONDS).toBe(5);
    const miss = records.answer('nope.default.svc.cluster.local', 'A');
    expect(miss.authorities).toHaveLength(1);
    expect(miss.authorities[0]).toMatchObject({ type: 'SOA', name: 'cluster.local' });
    expect(records.answer('cluster.local', 'SOA').answers[0]?.type).toBe('SOA');
  });

  it('gives the addresses of SRV targets as additionals', () => {
    const lookup = records.answer('_mysql._tcp.db.shop.svc.cluster.local', 'SRV');
    expect(lookup.additionals.map((record) => [record.name, record.data])).toEqual([
      ['172-17-0-7.db.shop.svc.cluster.local', '172.17.0.7'],
      ['172-17-0-8.db.shop.svc.cluster.local', '172.17.0.8'],
    ]);
  });

  it('answers names outside the domain from the hosts file only, else refuses', () => {
    expect(summary(records.answer('builder', 'A'))).toEqual({
      rcode: 'NOERROR',
      aa: false,
      data: ['192.168.1.20'],
    });
    expect(summary(records.answer('BUILDER.example.', 'A')).data).toEqual(['192.168.1.20']);
    expect(summary(records.answer('localhost', 'AAAA')).data).toEqual(['::1']);
    expect(summary(records.answer('localhost', 'A')).data).toEqual(['127.0.0.1']);
    expect(summary(records.answer('builder', 'MX'))).toEqual({
      rcode: 'NOERROR',
      aa: false,
      data: [],
    });
    for (const name of ['google.com', 'nothing', 'not-an-address', '1.1.168.192.in-addr.arpa']) {
      expect(records.answer(name, 'A').rcode).toBe('REFUSED');
    }
  });

  it('follows the services it is given: an endpoint gone is gone from the answer', () => {
    const later = dnsRecords([{ ...db, endpoints: db.endpoints.slice(1) }]);
    expect(summary(later.answer('db.shop.svc.cluster.local', 'A')).data).toEqual(['172.17.0.8']);
    expect(later.answer('172-17-0-7.db.shop.svc.cluster.local', 'A').rcode).toBe('NXDOMAIN');
    expect(later.answer('web.default.svc.cluster.local', 'A').rcode).toBe('NXDOMAIN');
  });

  it('serves another domain when told', () => {
    const other = dnsRecords([web], 'Berth.Internal.');
    expect(summary(other.answer('web.default.svc.berth.internal', 'A')).data).toEqual([
      '10.96.0.10',
    ]);
    expect(other.answer('web.default.svc.cluster.local', 'A').rcode).toBe('REFUSED');
  });
});
