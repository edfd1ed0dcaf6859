import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseRoute } from '../../../operator/agent/service-proxy/iptables.js';
import {
  cidrsOverlap,
  declaredChains,
  endpointChainName,
  filterRules,
  jumpRules,
  MAX_CHAIN_NAME_LENGTH,
  natRules,
  proxyRules,
  serviceChainName,
  shortHash,
} from '../../../operator/agent/service-proxy/rules.js';
import type { ServiceView } from '../../../operator/services/types.js';
import { dns, empty, endpoint, headless, shop, web } from './fixtures.js';

const options = { serviceCidr: '10.96.0.0/16' };

const NAT_HEAD = [
  '*nat',
  ':BERTH-SERVICES - [0:0]',
  ':BERTH-NODEPORTS - [0:0]',
  ':BERTH-POSTROUTING - [0:0]',
  ':BERTH-MARK-MASQ - [0:0]',
];
const NAT_FIXED = [
  '-A BERTH-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
  '-A BERTH-POSTROUTING -j MARK --xor-mark 0x4000',
  '-A BERTH-POSTROUTING -j MASQUERADE',
  '-A BERTH-MARK-MASQ -j MARK --or-mark 0x4000',
];
const TO_NODEPORTS = '-A BERTH-SERVICES -m addrtype --dst-type LOCAL -j BERTH-NODEPORTS';
const FILTER_HEAD = [
  '*filter',
  ':BERTH-REJECT - [0:0]',
  ':BERTH-FIREWALL - [0:0]',
  '-A BERTH-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
];

function text(lines: readonly string[]): string {
  return `${lines.join('\n')}\n`;
}

describe('natRules', () => {
  it('balances a ClusterIP service over its three endpoints, one random pick per connection', () => {
    const svc = serviceChainName(web, web.ports[0]!);
    const sep = (ip: string) => endpointChainName(web, web.ports[0]!, { ip, port: 8080 });
    expect(svc).toBe('BERTH-SVC-H5EIPCAXGRQ7ZI25');
    expect([sep('172.17.0.2'), sep('172.17.0.3'), sep('172.17.0.4')]).toEqual([
      'BERTH-SEP-3HPSFEQKTFOESHFG',
      'BERTH-SEP-IWEO5K2E34WH5HHF',
      'BERTH-SEP-JJRVJ7YVJU6NP4LY',
    ]);
    expect(natRules([web], options)).toBe(
      text([
        ...NAT_HEAD,
        ':BERTH-SEP-3HPSFEQKTFOESHFG - [0:0]',
        ':BERTH-SEP-IWEO5K2E34WH5HHF - [0:0]',
        ':BERTH-SEP-JJRVJ7YVJU6NP4LY - [0:0]',
        ':BERTH-SVC-H5EIPCAXGRQ7ZI25 - [0:0]',
        ...NAT_FIXED,
        '-A BERTH-SERVICES -d 10.96.0.10/32 -p tcp --dport 80 -m comment --comment "default/web" -j BERTH-SVC-H5EIPCAXGRQ7ZI25',
        TO_NODEPORTS,
        '-A BERTH-SVC-H5EIPCAXGRQ7ZI25 -m statistic --mode random --probability 0.3333333333 -j BERTH-SEP-3HPSFEQKTFOESHFG',
        '-A BERTH-SVC-H5EIPCAXGRQ7ZI25 -m statistic --mode random --probability 0.5000000000 -j BERTH-SEP-IWEO5K2E34WH5HHF',
        '-A BERTH-SVC-H5EIPCAXGRQ7ZI25 -j BERTH-SEP-JJRVJ7YVJU6NP4LY',
        '-A BERTH-SEP-3HPSFEQKTFOESHFG -s 172.17.0.2/32 -j BERTH-MARK-MASQ',
        '-A BERTH-SEP-3HPSFEQKTFOESHFG -p tcp -j DNAT --to-destination 172.17.0.2:8080',
        '-A BERTH-SEP-IWEO5K2E34WH5HHF -s 172.17.0.3/32 -j BERTH-MARK-MASQ',
        '-A BERTH-SEP-IWEO5K2E34WH5HHF -p tcp -j DNAT --to-destination 172.17.0.3:8080',
        '-A BERTH-SEP-JJRVJ7YVJU6NP4LY -s 172.17.0.4/32 -j BERTH-MARK-MASQ',
        '-A BERTH-SEP-JJRVJ7YVJU6NP4LY -p tcp -j DNAT --to-destination 172.17.0.4:8080',
        'COMMIT',
      ]),
    );
  });

  it('sends a NodePort to the service chain after marking it for masquerade, and keeps a ClientIP on its endpoint', () => {
    expect(natRules([shop], options)).toBe(
      text([
        ...NAT_HEAD,
        ':BERTH-SEP-C6ZCT5RY4W7X26DF - [0:0]',
        ':BERTH-SEP-IJVLZB5Y3H5D7PCJ - [0:0]',
        ':BERTH-SVC-TR35JVUPWXTJNN32 - [0:0]',
        ...NAT_FIXED,
        '-A BERTH-SERVICES -d 10.96.0.20/32 -p tcp --dport 80 -m comment --comment "prod/shop:http" -j BERTH-SVC-TR35JVUPWXTJNN32',
        TO_NODEPORTS,
        '-A BERTH-NODEPORTS -p tcp --dport 30080 -m comment --comment "prod/shop:http" -j BERTH-MARK-MASQ',
        '-A BERTH-NODEPORTS -p tcp --dport 30080 -m comment --comment "prod/shop:http" -j BERTH-SVC-TR35JVUPWXTJNN32',
        '-A BERTH-SVC-TR35JVUPWXTJNN32 -m recent --name BERTH-SEP-C6ZCT5RY4W7X26DF --rcheck --seconds 600 --reap -j BERTH-SEP-C6ZCT5RY4W7X26DF',
        '-A BERTH-SVC-TR35JVUPWXTJNN32 -m recent --name BERTH-SEP-IJVLZB5Y3H5D7PCJ --rcheck --seconds 600 --reap -j BERTH-SEP-IJVLZB5Y3H5D7PCJ',
        '-A BERTH-SVC-TR35JVUPWXTJNN32 -m statistic --mode random --probability 0.5000000000 -j BERTH-SEP-C6ZCT5RY4W7X26DF',
        '-A BERTH-SVC-TR35JVUPWXTJNN32 -j BERTH-SEP-IJVLZB5Y3H5D7PCJ',
        '-A BERTH-SEP-C6ZCT5RY4W7X26DF -s 172.17.0.5/32 -j BERTH-MARK-MASQ',
        '-A BERTH-SEP-C6ZCT5RY4W7X26DF -p tcp -m recent --name BERTH-SEP-C6ZCT5RY4W7X26DF --set -j DNAT --to-destination 172.17.0.5:80',
        '-A BERTH-SEP-IJVLZB5Y3H5D7PCJ -s 172.17.0.6/32 -j BERTH-MARK-MASQ',
        '-A BERTH-SEP-IJVLZB5Y3H5D7PCJ -p tcp -m recent --name BERTH-SEP-IJVLZB5Y3H5D7PCJ --set -j DNAT --to-destination 172.17.0.6:80',
        'COMMIT',
      ]),
    );
  });

  it('gives UDP and TCP ports of one service chains of their own', () => {
    expect(natRules([dns], options)).toBe(
      text([
        ...NAT_HEAD,
        ':BERTH-SEP-OJ55A2RCUDXDHOE4 - [0:0]',
        ':BERTH-SEP-Q67GKRNADNAPQ7SA - [0:0]',
        ':BERTH-SVC-67REBLX4EY3RPW2L - [0:0]',
        ':BERTH-SVC-7WHTCZPYFBHIXUVP - [0:0]',
        ...NAT_FIXED,
        '-A BERTH-SERVICES -d 10.96.0.53/32 -p udp --dport 53 -m comment --comment "kube-system/dns:dns" -j BERTH-SVC-67REBLX4EY3RPW2L',
        '-A BERTH-SERVICES -d 10.96.0.53/32 -p tcp --dport 53 -m comment --comment "kube-system/dns:dns-tcp" -j BERTH-SVC-7WHTCZPYFBHIXUVP',
        TO_NODEPORTS,
        '-A BERTH-SVC-67REBLX4EY3RPW2L -j BERTH-SEP-Q67GKRNADNAPQ7SA',
        '-A BERTH-SVC-7WHTCZPYFBHIXUVP -j BERTH-SEP-OJ55A2RCUDXDHOE4',
        '-A BERTH-SEP-Q67GKRNADNAPQ7SA -s 172.17.0.7/32 -j BERTH-MARK-MASQ',
        '-A BERTH-SEP-Q67GKRNADNAPQ7SA -p udp -j DNAT --to-destination 172.17.0.7:5353',
        '-A BERTH-SEP-OJ55A2RCUDXDHOE4 -s 172.17.0.7/32 -j BERTH-MARK-MASQ',
        '-A BERTH-SEP-OJ55A2RCUDXDHOE4 -p tcp -j DNAT --to-destination 172.17.0.7:5353',
        'COMMIT',
      ]),
    );
  });

  it('writes nothing for a headless service, nor for one without endpoints', () => {
    const bare = text([...NAT_HEAD, ...NAT_FIXED, TO_NODEPORTS, 'COMMIT']);
    expect(natRules([headless], options)).toBe(bare);
    expect(natRules([empty], options)).toBe(bare);
    expect(natRules([], options)).toBe(bare);
  });

  it('writes nothing for a cluster IP outside the service range (the sink does not cover it)', () => {
    const outside: ServiceView = { ...web, clusterIP: '192.168.1.10' };
    expect(natRules([outside], options)).toBe(natRules([], options));
  });

  it('reaches node ports on the node IPs and 127/8 only, when told the node IPs', () => {
    expect(natRules([], { ...options, nodeIPs: ['192.0.2.2', '10.0.0.1', '192.0.2.2'] })).toBe(
      text([
        ...NAT_HEAD,
        ...NAT_FIXED,
        '-A BERTH-SERVICES -d 10.0.0.1/32 -j BERTH-NODEPORTS',
        '-A BERTH-SERVICES -d 192.0.2.2/32 -j BERTH-NODEPORTS',
        '-A BERTH-SERVICES -d 127.0.0.0/8 -j BERTH-NODEPORTS',
        'COMMIT',
      ]),
    );
  });

  it('deletes service and endpoint chains that exist but are no longer needed, and only those', () => {
    const wanted = serviceChainName(web, web.ports[0]!);
    const result = natRules([web], {
      ...options,
      existingChains: ['BERTH-SVC-AAAA', 'BERTH-SEP-BBBB', 'BERTH-SERVICES', 'DOCKER', wanted],
    });
    const lines = result.split('\n');
    expect(lines.filter((line) => line.startsWith('-X '))).toEqual([
      '-X BERTH-SEP-BBBB',
      '-X BERTH-SVC-AAAA',
    ]);
    // A chain is declared (flushed) before it is deleted, and the deletions come last.
    expect(lines).toContain(':BERTH-SVC-AAAA - [0:0]');
    expect(lines.indexOf('-X BERTH-SEP-BBBB')).toBeGreaterThan(
      lines.findLastIndex((line) => line.startsWith('-A ')),
    );
    expect(lines.filter((line) => line === `:${wanted} - [0:0]`)).toHaveLength(1);
  });

  it('is deterministic: the order of services and endpoints does not change the text', () => {
    const reversed: ServiceView = { ...web, endpoints: [...web.endpoints].reverse() };
    expect(natRules([shop, reversed, dns], options)).toBe(natRules([dns, web, shop], options));
  });

  it('skips endpoints without the port and duplicate endpoints', () => {
    const odd: ServiceView = {
      ...web,
      endpoints: [
        endpoint('172.17.0.2', 'web-a', { '': 8080 }),
        endpoint('172.17.0.2', 'web-a', { '': 8080 }),
        endpoint('172.17.0.9', 'other', { metrics: 9090 }),
      ],
    };
    const lines = natRules([odd], options).split('\n');
    expect(lines.filter((line) => line.includes('DNAT'))).toEqual([
      `-A ${endpointChainName(web, web.ports[0]!, { ip: '172.17.0.2', port: 8080 })} -p tcp -j DNAT --to-destination 172.17.0.2:8080`,
    ]);
  });

  it('names every chain stably and under 29 characters, with a custom prefix too', () => {
    const all = [web, shop, dns, headless, empty];
    for (const prefix of ['BERTH', 'BTEST', 'ABCDEFG']) {
      const chains = declaredChains(proxyRules(all, { ...options, chainPrefix: prefix }));
      expect(chains.length).toBeGreaterThan(6);
      for (const chain of chains) {
        expect(chain.length).toBeLessThanOrEqual(MAX_CHAIN_NAME_LENGTH);
        expect(chain.startsWith(`${prefix}-`)).toBe(true);
      }
    }
    expect(() => natRules([], { ...options, chainPrefix: 'TOOLONGX' })).toThrow(/prefix/);
    expect(serviceChainName(web, web.ports[0]!, 'BTEST')).toBe('BTEST-SVC-H5EIPCAXGRQ7ZI25');
  });
});

describe('filterRules', () => {
  it('rejects new connections to the cluster IP and node port of a service without endpoints', () => {
    expect(filterRules([web, empty, headless], options)).toBe(
      text([
        ...FILTER_HEAD,
        '-A BERTH-REJECT -d 10.96.0.30/32 -p tcp --dport 80 -m comment --comment "default/empty has no endpoints" -j REJECT --reject-with icmp-port-unreachable',
        '-A BERTH-REJECT -m addrtype --dst-type LOCAL -p tcp --dport 30081 -m comment --comment "default/empty has no endpoints" -j REJECT --reject-with icmp-port-unreachable',
        'COMMIT',
      ]),
    );
  });

  it('rejects nothing for a headless service without endpoints', () => {
    expect(filterRules([{ ...headless, endpoints: [] }], options)).toBe(
      text([...FILTER_HEAD, 'COMMIT']),
    );
  });
});

describe('jumpRules', () => {
  it('enters the chains from the built-in hooks, filter only for new connections', () => {
    expect(
      jumpRules().map((jump) => `${jump.table} -A ${jump.chain} ${jump.rule.join(' ')}`),
    ).toEqual([
      'nat -A PREROUTING -j BERTH-SERVICES',
      'nat -A OUTPUT -j BERTH-SERVICES',
      'nat -A POSTROUTING -j BERTH-POSTROUTING',
      'filter -A INPUT -m conntrack --ctstate NEW -j BERTH-REJECT',
      'filter -A FORWARD -m conntrack --ctstate NEW -j BERTH-REJECT',
      'filter -A OUTPUT -m conntrack --ctstate NEW -j BERTH-REJECT',
      'filter -A INPUT -j BERTH-FIREWALL',
    ]);
  });
});

describe('shortHash', () => {
  it('is the first 80 bits of the sha256, in RFC 4648 base32', () => {
    const input = 'default/web:/tcp';
    const digest = createHash('sha256').update(input).digest();
    const bits = [...digest.subarray(0, 10)].map((b) => b.toString(2).padStart(8, '0')).join('');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const expected = (bits.match(/.{5}/g) ?? [])
      .map((group) => alphabet[parseInt(group, 2)])
      .join('');
    expect(expected).toHaveLength(16);
    expect(shortHash(input)).toBe(expected);
  });
});

describe('routes and ranges', () => {
  it('reads the destination and device of ip route lines', () => {
    expect(parseRoute('default via 192.0.2.1 dev eth0')).toEqual({ dest: 'default', dev: 'eth0' });
    expect(parseRoute('10.96.0.0/16 dev berth-svc0 scope link')).toEqual({
      dest: '10.96.0.0/16',
      dev: 'berth-svc0',
    });
    expect(parseRoute('local 172.17.0.1 dev docker0 table local proto kernel scope host')).toEqual({
      dest: '172.17.0.1/32',
      dev: 'docker0',
    });
    expect(parseRoute('  ')).toBeUndefined();
  });

  it('tells overlapping ranges', () => {
    expect(cidrsOverlap('10.96.0.0/16', '10.96.5.0/24')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/8', '10.97.0.0/16')).toBe(true);
    expect(cidrsOverlap('10.96.0.0/16', '10.97.0.0/16')).toBe(false);
    expect(cidrsOverlap('172.17.0.1/32', '10.96.0.0/16')).toBe(false);
    expect(() => cidrsOverlap('10.96.0.0', '10.96.0.0/16')).toThrow(/CIDR/);
  });
});
