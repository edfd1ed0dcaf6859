import { describe, expect, it } from 'vitest';
import {
  type CommandResult,
  createServiceProxy,
  type ServiceProxyOptions,
} from '../../../operator/agent/service-proxy/iptables.js';
import { serviceChainName } from '../../../operator/agent/service-proxy/rules.js';
import type { ServiceView } from '../../../operator/services/types.js';
import { dns, shop, web } from './fixtures.js';

/**
 * The adapter against a fake host: what it runs, in which order, and what it skips. The
 * real host is in ../service-proxy.docker.test.ts.
 */

interface Call {
  readonly command: string;
  readonly args: readonly string[];
  readonly input: string | undefined;
}

class FakeHost {
  readonly calls: Call[] = [];
  routes = 'default via 192.0.2.1 dev eth0\n172.17.0.0/16 dev docker0 proto kernel scope link\n';
  natSave = '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n';
  filterSave = '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n';
  chainListings: Record<string, string> = {};
  linkExists = false;
  tools = new Set(['iptables', 'iptables-restore', 'iptables-save', 'ip', 'sysctl']);
  restoreFails = false;
  /** While set, iptables-restore waits for it. */
  gate: Promise<void> | undefined;

  readonly run = async (
    command: string,
    args: readonly string[],
    input?: string,
  ): Promise<CommandResult> => {
    this.calls.push({ command, args, input });
    const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
    if (!this.tools.has(command)) return { code: 127, stdout: '', stderr: 'not found' };
    const line = args.join(' ');
    if (command === 'iptables-restore') {
      if (line.includes('--version')) return ok();
      await this.gate;
      return this.restoreFails ? { code: 2, stdout: '', stderr: 'line 7 failed' } : ok();
    }
    if (command === 'iptables-save') {
      return ok(line.includes('nat') ? this.natSave : this.filterSave);
    }
    if (command === 'iptables') {
      const listed = /-t (\w+) -S (\S+)/.exec(line);
      if (listed !== null) return ok(this.chainListings[`${listed[1]} ${listed[2]}`] ?? '');
      if (line.includes(' -C ')) return { code: 1, stdout: '', stderr: 'no such rule' };
      return ok();
    }
    if (command === 'ip') {
      if (line.startsWith('-4 -o route show')) return ok(this.routes);
      if (line.startsWith('-o link show'))
        return this.linkExists ? ok('9: x') : { code: 1, stdout: '', stderr: 'no device' };
      if (line.startsWith('-d -o link show')) return ok('9: berth-svc0: <> bridge forward_delay');
      return ok();
    }
    if (command === 'conntrack') return ok();
    return ok();
  };

  restores(): string[] {
    return this.calls
      .filter((c) => c.command === 'iptables-restore' && c.input !== '')
      .map((c) => c.input ?? '');
  }

  ran(prefix: string): string[] {
    return this.calls
      .map((c) => `${c.command} ${c.args.join(' ')}`)
      .filter((line) => line.startsWith(prefix));
  }
}

function proxyOn(host: FakeHost, extra: Partial<ServiceProxyOptions> = {}) {
  return createServiceProxy({ serviceCidr: '10.96.0.0/16', run: host.run, uid: 0, ...extra });
}

describe('createServiceProxy (fake host)', () => {
  it('applies the newest of the syncs that arrive while one runs, and answers them all', async () => {
    const host = new FakeHost();
    let open: () => void = () => {};
    host.gate = new Promise((resolve) => {
      open = resolve;
    });
    const proxy = proxyOn(host);
    const first = proxy.sync([web]);
    const second = proxy.sync([web, shop]);
    const third = proxy.sync([web, dns]);
    open();
    await Promise.all([first, second, third]);
    const restores = host.restores();
    expect(restores).toHaveLength(2);
    expect(restores[0]).toContain('default/web');
    expect(restores[1]).toContain('kube-system/dns');
    expect(restores[1]).not.toContain('prod/shop');
  });

  it('skips a sync that changes nothing, and deletes the chains a service left behind', async () => {
    const host = new FakeHost();
    host.natSave = '*nat\n:BERTH-SVC-LEFTOVER - [0:0]\n:DOCKER - [0:0]\nCOMMIT\n';
    const proxy = proxyOn(host);
    await proxy.sync([web]);
    await proxy.sync([web]);
    await proxy.sync([]);
    await proxy.sync([]);
    const restores = host.restores();
    expect(restores).toHaveLength(2);
    expect(restores[0]).toContain('-X BERTH-SVC-LEFTOVER');
    expect(restores[0]).not.toContain('-X DOCKER');
    expect(restores[1]).toContain(`-X ${serviceChainName(web, web.ports[0]!)}`);
    expect(restores[1]).not.toContain('LEFTOVER');
    // The existing chains are read once; later syncs know them from what they applied.
    expect(host.ran('iptables-save -t nat')).toHaveLength(1);
    for (const call of host.calls.filter((c) => c.command === 'iptables-restore')) {
      expect(call.args).toEqual(['-w', '5', '--noflush']);
    }
  });

  it('rejects a failed sync with PROXY_FAILED and applies the same services on the next try', async () => {
    const host = new FakeHost();
    const lines: string[] = [];
    const proxy = proxyOn(host, { log: (line) => lines.push(line) });
    host.restoreFails = true;
    await expect(proxy.sync([web])).rejects.toMatchObject({ code: 'PROXY_FAILED', retry: true });
    expect(lines.join('\n')).toMatch(/line 7 failed/);
    host.restoreFails = false;
    await proxy.sync([web]);
    expect(host.restores()).toHaveLength(2);
  });

  it('deletes the UDP conntrack entries of an endpoint that left, or says it cannot', async () => {
    const twoEndpoints: ServiceView = {
      ...dns,
      endpoints: [
        ...dns.endpoints,
        { ip: '172.17.0.9', pod: 'kube-system/dns-b', node: 'n', ports: { dns: 5353 } },
      ],
    };
    const withTool = new FakeHost();
    withTool.tools.add('conntrack');
    const proxy = proxyOn(withTool);
    await proxy.sync([twoEndpoints]);
    await proxy.sync([dns]);
    expect(withTool.ran('conntrack -D')).toEqual([
      'conntrack -D -p udp --orig-dst 10.96.0.53 --dst-nat 172.17.0.9',
    ]);

    const without = new FakeHost();
    const lines: string[] = [];
    const bare = proxyOn(without, { log: (line) => lines.push(line) });
    await bare.sync([twoEndpoints]);
    await bare.sync([dns]);
    await bare.sync([twoEndpoints]);
    await bare.sync([dns]);
    expect(lines.filter((line) => line.includes('conntrack'))).toHaveLength(1);
    expect(without.ran('conntrack -D')).toEqual([]);
  });

  it('starts: route_localnet, the sink bridge and route, the chains, each jump exactly once', async () => {
    const host = new FakeHost();
    host.chainListings['nat PREROUTING'] =
      '-P PREROUTING ACCEPT\n-A PREROUTING -j BERTH-SERVICES\n-A PREROUTING -j BERTH-SERVICES\n';
    host.chainListings['nat OUTPUT'] = '-P OUTPUT ACCEPT\n-A OUTPUT -j BERTH-SERVICES\n';
    await proxyOn(host).start();
    expect(host.ran('sysctl -w')).toEqual(['sysctl -w net.ipv4.conf.all.route_localnet=1']);
    expect(host.ran('ip link add')).toEqual(['ip link add berth-svc0 type bridge']);
    expect(host.ran('ip route replace')).toEqual(['ip route replace 10.96.0.0/16 dev berth-svc0']);
    expect(host.ran('iptables -w 5 -t nat -N')).toEqual([
      'iptables -w 5 -t nat -N BERTH-SERVICES',
      'iptables -w 5 -t nat -N BERTH-NODEPORTS',
      'iptables -w 5 -t nat -N BERTH-POSTROUTING',
      'iptables -w 5 -t nat -N BERTH-MARK-MASQ',
    ]);
    // Two copies: both go, one comes back first in the chain. One copy: left alone.
    expect(host.ran('iptables -w 5 -t nat -D PREROUTING')).toHaveLength(2);
    expect(host.ran('iptables -w 5 -t nat -I PREROUTING')).toEqual([
      'iptables -w 5 -t nat -I PREROUTING 1 -j BERTH-SERVICES',
    ]);
    expect(host.ran('iptables -w 5 -t nat -I OUTPUT')).toEqual([]);
    expect(host.ran('iptables -w 5 -t filter -I')).toHaveLength(4);
  });

  it('keeps its own sink route and bridge on a second start', async () => {
    const host = new FakeHost();
    host.routes += '10.96.0.0/16 dev berth-svc0 scope link linkdown\n';
    host.linkExists = true;
    await proxyOn(host).start();
    expect(host.ran('ip link add')).toEqual([]);
    expect(host.ran('ip route replace')).toEqual([]);
  });

  it('refuses a range that overlaps a route of the host, before changing anything', async () => {
    const host = new FakeHost();
    host.routes += '10.96.4.0/24 dev eth1 proto kernel scope link\n';
    await expect(proxyOn(host).start()).rejects.toMatchObject({
      code: 'PROXY_RANGE_CONFLICT',
      message: expect.stringContaining('10.96.4.0/24 dev eth1'),
    });
    expect(host.ran('ip link add')).toEqual([]);
    expect(host.ran('iptables -w')).toEqual([]);
  });

  it('refuses to start without root or without iptables', async () => {
    await expect(proxyOn(new FakeHost(), { uid: 1000 }).start()).rejects.toMatchObject({
      code: 'PROXY_UNAVAILABLE',
      message: expect.stringContaining('root'),
    });
    const host = new FakeHost();
    host.tools.delete('iptables-restore');
    await expect(proxyOn(host).start()).rejects.toMatchObject({
      code: 'PROXY_UNAVAILABLE',
      message: expect.stringContaining('iptables-restore'),
    });
  });

  it('keeps the rules on stop, and removes jumps, chains, route and bridge when asked', async () => {
    const kept = new FakeHost();
    const proxy = proxyOn(kept);
    await proxy.sync([web]);
    const before = kept.calls.length;
    await proxy.stop();
    expect(kept.calls.length).toBe(before);
    await expect(proxy.sync([web])).rejects.toThrow(/stopped/);

    const removed = new FakeHost();
    removed.natSave =
      '*nat\n:BERTH-SERVICES - [0:0]\n:BERTH-SVC-X - [0:0]\n:DOCKER - [0:0]\nCOMMIT\n';
    await proxyOn(removed).stop({ removeRules: true });
    const restore = removed.restores()[0] ?? '';
    expect(restore).toContain('-X BERTH-SERVICES');
    expect(restore).toContain('-X BERTH-SVC-X');
    expect(restore).not.toContain('DOCKER');
    expect(removed.ran('ip route del')).toEqual(['ip route del 10.96.0.0/16 dev berth-svc0']);
    expect(removed.ran('ip link del')).toEqual(['ip link del berth-svc0']);
  });
});
