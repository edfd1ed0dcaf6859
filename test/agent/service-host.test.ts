import { describe, expect, it } from 'vitest';
import type { DnsServer, DnsServerOptions } from '../../operator/agent/dns/server.js';
import { createServiceHost, withServiceHost } from '../../operator/agent/service-host.js';
import type { ServiceProxy } from '../../operator/agent/service-proxy/iptables.js';
import { BerthError } from '../../operator/model/errors.js';
import type { ServiceView } from '../../operator/services/types.js';
import { waitFor } from '../helpers/wait.js';

/** The service host over a fake proxy and DNS server: ordering, coalescing, retries, failures. */

function view(name: string): ServiceView {
  return {
    namespace: 'default',
    name,
    type: 'ClusterIP',
    clusterIP: '10.96.0.10',
    sessionAffinity: 'None',
    ports: [{ name: '', protocol: 'TCP', port: 80 }],
    endpoints: [],
  };
}

const names = (services: readonly ServiceView[]) => services.map((s) => s.name).join(',');

interface Deferred {
  readonly services: readonly ServiceView[];
  resolve(): void;
  reject(error: Error): void;
}

/** A proxy whose syncs stay pending until the test settles them. */
class FakeProxy implements ServiceProxy {
  startError: Error | undefined;
  started = 0;
  stops: ({ readonly removeRules?: boolean } | undefined)[] = [];
  readonly syncs: Deferred[] = [];
  concurrent = 0;
  maxConcurrent = 0;
  autoResolve = false;

  async start(): Promise<void> {
    this.started += 1;
    if (this.startError !== undefined) throw this.startError;
  }

  sync(services: readonly ServiceView[]): Promise<void> {
    this.concurrent += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.concurrent -= 1;
      };
      const deferred: Deferred = {
        services,
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      this.syncs.push(deferred);
      if (this.autoResolve) deferred.resolve();
    });
  }

  async stop(options?: { readonly removeRules?: boolean }): Promise<void> {
    this.stops.push(options);
  }
}

class FakeDns implements DnsServer {
  readonly address = { host: '172.17.0.1', port: 53 };
  readonly updates: string[] = [];
  closed = false;
  constructor(readonly options: DnsServerOptions) {}
  update(services: readonly ServiceView[]): void {
    this.updates.push(names(services));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function setup(overrides: { proxyError?: Error; dnsError?: Error; retryInitialMs?: number } = {}) {
  const proxy = new FakeProxy();
  proxy.startError = overrides.proxyError;
  const lines: string[] = [];
  const servers: FakeDns[] = [];
  const host = createServiceHost({
    dnsHost: '172.17.0.1',
    proxy,
    log: (line) => lines.push(line),
    retryInitialMs: overrides.retryInitialMs ?? 20,
    retryMaxMs: 100,
    startDns: async (options) => {
      if (overrides.dnsError !== undefined) throw overrides.dnsError;
      const server = new FakeDns(options);
      servers.push(server);
      return server;
    },
  });
  return { proxy, lines, servers, host };
}

describe('createServiceHost', () => {
  it('starts DNS on dnsHost:53 with the services set before start, and syncs the proxy with them', async () => {
    const { proxy, servers, host } = setup();
    host.setServices([view('early')]);
    await host.start();
    expect(servers).toHaveLength(1);
    expect(servers[0]!.options).toMatchObject({ host: '172.17.0.1', port: 53 });
    expect(names(servers[0]!.options.services ?? [])).toBe('early');
    expect(proxy.syncs.map((s) => names(s.services))).toEqual(['early']);
    expect(host.running()).toEqual({ proxy: true, dns: { host: '172.17.0.1', port: 53 } });
  });

  it('settles setServices once the proxy applied that set or a newer one, at once without a proxy', async () => {
    const { proxy, host } = setup();
    let early = false;
    // Not started: no rules to wait for.
    await host.setServices([view('early')]).then(() => {
      early = true;
    });
    expect(early).toBe(true);
    await host.start();
    proxy.syncs[0]!.resolve();
    await waitFor(() => proxy.concurrent === 0, 'the first sync done');
    await new Promise((resolve) => setImmediate(resolve));

    const settled: string[] = [];
    const a = host.setServices([view('a')]).then(() => settled.push('a'));
    const b = host.setServices([view('b')]).then(() => settled.push('b'));
    expect(proxy.syncs.map((sync) => names(sync.services))).toEqual(['early', 'a']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toEqual([]);
    proxy.syncs[1]!.resolve();
    await waitFor(() => proxy.syncs.length === 3, 'the sync of b, after a');
    await a;
    expect(settled).toEqual(['a']);
    // A failed sync lets its waiters go too (the retry may take long).
    proxy.syncs[2]!.reject(new BerthError('PROXY_FAILED', 'iptables-restore failed'));
    await b;
    expect(settled).toEqual(['a', 'b']);
    await host.stop();
    await host.setServices([view('after stop')]);
  });

  it('settles setServices at once when the proxy could not start', async () => {
    const { host } = setup({ proxyError: new BerthError('PROXY_UNAVAILABLE', 'not root') });
    await host.start();
    await host.setServices([view('a')]);
  });

  it('updates DNS at once and runs one proxy sync at a time, the newest set winning', async () => {
    const { proxy, servers, host } = setup();
    await host.start();
    host.setServices([view('a')]);
    host.setServices([view('b')]);
    host.setServices([view('c')]);
    expect(servers[0]!.updates).toEqual(['a', 'b', 'c']);
    expect(proxy.syncs.map((s) => names(s.services))).toEqual(['a']);
    proxy.syncs[0]!.resolve();
    await waitFor(() => proxy.syncs.length === 2, 'the second sync');
    expect(names(proxy.syncs[1]!.services)).toBe('c');
    proxy.syncs[1]!.resolve();
    expect(proxy.maxConcurrent).toBe(1);
  });

  it('retries a failed sync after a backoff, and at once on a newer set', async () => {
    const { proxy, host } = setup({ retryInitialMs: 30 });
    await host.start();
    host.setServices([view('a')]);
    proxy.syncs[0]!.reject(new Error('xtables lock'));
    await waitFor(() => proxy.syncs.length === 2, 'the retry after the backoff');
    expect(names(proxy.syncs[1]!.services)).toBe('a');
    // A newer set while the retry runs: it goes next, not the failed one.
    host.setServices([view('b')]);
    proxy.syncs[1]!.reject(new Error('xtables lock'));
    await waitFor(() => proxy.syncs.length === 3, 'the sync of the newer set');
    expect(names(proxy.syncs[2]!.services)).toBe('b');
    proxy.syncs[2]!.resolve();
    await host.stop();
    expect(proxy.syncs).toHaveLength(3);
  });

  it('keeps DNS when the proxy cannot start, saying so in one line', async () => {
    const { proxy, lines, servers, host } = setup({
      proxyError: new BerthError('PROXY_UNAVAILABLE', 'the service proxy needs root', {
        hint: 'Run the agent as root, or without services.',
      }),
    });
    await host.start();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no service proxy on this node.*needs root.*as root/);
    host.setServices([view('a')]);
    expect(servers[0]!.updates).toEqual(['a']);
    expect(proxy.syncs).toHaveLength(0);
    expect(host.running().proxy).toBe(false);
    await host.stop();
    expect(proxy.stops).toHaveLength(0);
    expect(servers[0]!.closed).toBe(true);
  });

  it('keeps the proxy when port 53 is taken, saying so in one line', async () => {
    const { proxy, lines, host } = setup({
      dnsError: new BerthError(
        'AGENT_LISTEN_FAILED',
        'the DNS server cannot listen on 172.17.0.1:53: EADDRINUSE',
      ),
    });
    await host.start();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no cluster DNS on this node.*172\.17\.0\.1:53: EADDRINUSE/);
    proxy.autoResolve = true;
    host.setServices([view('a')]);
    expect(proxy.syncs.map((s) => names(s.services))).toEqual(['a']);
    expect(host.running()).toEqual({ proxy: true, dns: undefined });
  });

  it('stops: DNS closed, the proxy stopped without removing its rules, later sets ignored', async () => {
    const { proxy, servers, host } = setup();
    proxy.autoResolve = true;
    await host.start();
    host.setServices([view('a')]);
    await host.stop();
    expect(servers[0]!.closed).toBe(true);
    expect(proxy.stops).toHaveLength(1);
    expect(proxy.stops[0]?.removeRules).not.toBe(true);
    host.setServices([view('b')]);
    expect(proxy.syncs).toHaveLength(1);
    await host.stop();
    expect(proxy.stops).toHaveLength(1);
  });

  it('refuses a service range that is not a CIDR', () => {
    expect(() => createServiceHost({ dnsHost: '127.0.0.1', serviceCidr: '10.96.0.0' })).toThrow(
      expect.objectContaining({ code: 'CLI_USAGE' }),
    );
  });
});

describe('withServiceHost', () => {
  it('starts the host before the agent, stops it after, and hands it the services', async () => {
    const events: string[] = [];
    const { proxy, servers, host } = setup();
    proxy.autoResolve = true;
    const agent = {
      async start() {
        events.push(`agent start (dns ${servers.length})`);
      },
      async stop() {
        events.push(`agent stop (dns closed ${servers[0]?.closed})`);
      },
    };
    const wrapped = withServiceHost(agent, async () => {
      events.push('host made');
      return host;
    });
    wrapped.setServices([view('before')]);
    await wrapped.start();
    wrapped.setServices([view('after')]);
    await wrapped.stop();
    expect(events).toEqual(['host made', 'agent start (dns 1)', 'agent stop (dns closed false)']);
    expect(names(servers[0]!.options.services ?? [])).toBe('before');
    expect(servers[0]!.updates).toEqual(['after']);
    expect(servers[0]!.closed).toBe(true);
    expect(proxy.syncs.map((s) => names(s.services))).toEqual(['before', 'after']);
  });

  it('stops the host when the agent fails to start', async () => {
    const { servers, host } = setup();
    const wrapped = withServiceHost(
      {
        async start() {
          throw new Error('engine down');
        },
        async stop() {},
      },
      host,
    );
    await expect(wrapped.start()).rejects.toThrow('engine down');
    expect(servers[0]!.closed).toBe(true);
  });
});
