/**
 * The services side of a node: the service proxy (iptables, service-proxy/) and the cluster
 * DNS server (dns/) fed from the ServiceViews the operator hands the node with its pods.
 * DNS answers from the newest set at once; proxy syncs run one at a time, newest set wins, a
 * failed one is retried on the next change or after a backoff. A host that cannot run one of
 * them (not root, no iptables, port 53 taken) says so in one line and runs the other: the
 * agent and its pods carry on without it.
 */
import { BerthError, isBerthError } from '../model/errors.js';
import { DEFAULT_SERVICE_CIDR, type ServiceView } from '../services/types.js';
import { type DnsServer, type DnsServerOptions, startDnsServer } from './dns/server.js';
import { createServiceProxy, type ServiceProxy } from './service-proxy/iptables.js';
import { parseCidr } from './service-proxy/rules.js';

export interface ServiceHostOptions {
  /** The range cluster IPs come from. @default DEFAULT_SERVICE_CIDR (10.96.0.0/16) */
  readonly serviceCidr?: string;
  /** Where the DNS server listens: the address pods have as their name server. */
  readonly dnsHost: string;
  /** @default 53 (pods' resolv.conf names no port); 0 picks a free one */
  readonly dnsPort?: number;
  /** Trouble and notes, one line each. */
  readonly log?: (line: string) => void;
  /** The cluster DNS domain. @default 'cluster.local' */
  readonly domain?: string;
  /** Names outside the domain answered from this hosts file (false: none). @default '/etc/hosts' */
  readonly hostsFile?: string | false;
  /** iptables chain prefix (default the proxy's, BERTH); a test uses its own. */
  readonly chainPrefix?: string;
  /** The proxy's sink bridge (default berth-svc0); a test uses its own. */
  readonly sinkDevice?: string;
  /** Backoff after a failed proxy sync: first wait, doubled up to the cap. @default 1 s to 30 s */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** The proxy to drive. @default createServiceProxy on the host's iptables */
  readonly proxy?: ServiceProxy;
  /** Starts the DNS server. @default startDnsServer */
  readonly startDns?: (options: DnsServerOptions) => Promise<DnsServer>;
}

export interface ServiceHost {
  /** Starts the proxy and the DNS server; never throws for either (each logs why it is not running). */
  start(): Promise<void>;
  /**
   * The node's services from now on (DNS at once, the proxy as soon as a sync can run).
   * Settles (never rejects) once the proxy has applied this set or a newer one, or its sync
   * failed, or there is no proxy to wait for (not started, not running, stopped): a caller
   * that must not act before the rules hold (stopping a pod that just left the endpoints)
   * waits on it.
   */
  setServices(services: readonly ServiceView[]): Promise<void>;
  /**
   * Closes DNS and stops syncing the proxy, leaving its rules in force: established
   * connections and service addresses keep working while the agent restarts.
   */
  stop(): Promise<void>;
  /** What runs now (for tests and status lines). */
  running(): { readonly proxy: boolean; readonly dns: DnsServer['address'] | undefined };
}

const DEFAULT_DNS_PORT = 53;

/** Throws CLI_USAGE for a service range that is not an IPv4 CIDR (it comes from a flag). */
export function checkServiceCidr(cidr: string): void {
  try {
    parseCidr(cidr);
  } catch {
    throw new BerthError('CLI_USAGE', `--service-cidr ${cidr} is not an IPv4 CIDR`, {
      hint: `e.g. --service-cidr ${DEFAULT_SERVICE_CIDR}`,
    });
  }
}

function describe(error: unknown): string {
  if (isBerthError(error))
    return error.hint === undefined ? error.message : `${error.message} (${error.hint})`;
  return error instanceof Error ? error.message : String(error);
}

export function createServiceHost(options: ServiceHostOptions): ServiceHost {
  const log = options.log ?? (() => {});
  const serviceCidr = options.serviceCidr ?? DEFAULT_SERVICE_CIDR;
  checkServiceCidr(serviceCidr);
  const dnsPort = options.dnsPort ?? DEFAULT_DNS_PORT;
  const retryInitialMs = options.retryInitialMs ?? 1_000;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  const proxy =
    options.proxy ??
    createServiceProxy({
      serviceCidr,
      log,
      ...(options.chainPrefix === undefined ? {} : { chainPrefix: options.chainPrefix }),
      ...(options.sinkDevice === undefined ? {} : { sinkDevice: options.sinkDevice }),
    });

  /** The newest set (DNS answers from it; a DNS server started later starts with it). */
  let current: readonly ServiceView[] | undefined;
  /** A set the proxy has not applied yet. */
  let unsynced: readonly ServiceView[] | undefined;
  /** Callers of setServices waiting for the proxy to apply `unsynced` (or a newer set). */
  let unsyncedWaiters: (() => void)[] = [];
  let proxyUp = false;
  let dns: DnsServer | undefined;
  let started = false;
  let stopped = false;
  let inFlight: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;

  /** Runs the next proxy sync when one is due and none runs. */
  function kick(): void {
    if (!proxyUp || stopped || inFlight !== undefined || unsynced === undefined) return;
    if (retryTimer !== undefined) {
      clearTimeout(retryTimer);
      retryTimer = undefined;
    }
    const services = unsynced;
    const waiters = unsyncedWaiters;
    unsynced = undefined;
    unsyncedWaiters = [];
    inFlight = proxy.sync(services).then(
      () => {
        failures = 0;
        inFlight = undefined;
        for (const settle of waiters) settle();
        kick();
      },
      () => {
        // The proxy logged why. A newer set goes at once; else the same one after a backoff.
        // Waiters are let go: the rules are what they were, and a retry may take long.
        inFlight = undefined;
        for (const settle of waiters) settle();
        failures += 1;
        if (stopped) return;
        if (unsynced !== undefined) {
          kick();
          return;
        }
        unsynced = services;
        const waitMs = Math.min(retryMaxMs, retryInitialMs * 2 ** Math.min(failures - 1, 20));
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          kick();
        }, waitMs);
        retryTimer.unref();
      },
    );
  }

  return {
    async start() {
      if (started) return;
      started = true;
      try {
        await proxy.start();
        proxyUp = true;
      } catch (error) {
        log(
          `services: no service proxy on this node, cluster IPs and node ports do not answer here: ${describe(error)}`,
        );
      }
      try {
        dns = await (options.startDns ?? startDnsServer)({
          host: options.dnsHost,
          port: dnsPort,
          log,
          ...(options.domain === undefined ? {} : { domain: options.domain }),
          ...(options.hostsFile === undefined ? {} : { hostsFile: options.hostsFile }),
          ...(current === undefined ? {} : { services: current }),
        });
      } catch (error) {
        log(
          `services: no cluster DNS on this node, pods cannot resolve service names: ${describe(error)}`,
        );
      }
      if (stopped) {
        await dns?.close();
        dns = undefined;
        return;
      }
      kick();
    },

    setServices(services) {
      if (stopped) return Promise.resolve();
      current = services;
      unsynced = services;
      dns?.update(services);
      // Only a running proxy has rules to wait for; one not started yet syncs this set first.
      const applied = proxyUp
        ? new Promise<void>((resolve) => unsyncedWaiters.push(resolve))
        : Promise.resolve();
      kick();
      return applied;
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      retryTimer = undefined;
      await inFlight;
      for (const settle of unsyncedWaiters) settle();
      unsyncedWaiters = [];
      const closing = dns;
      dns = undefined;
      await closing
        ?.close()
        .catch((error: unknown) => log(`services: closing DNS: ${describe(error)}`));
      if (proxyUp) await proxy.stop();
      proxyUp = false;
    },

    running() {
      return { proxy: proxyUp, dns: dns?.address };
    },
  };
}

/** The parts of a node agent the service host is started and stopped with. */
export interface StartStop {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The agent with its node's services: `setServices` feeds the host, `start` starts the host
 * (before the agent, so adopted pods resolve at once) then the agent, `stop` stops the agent
 * then the host. `host` may be made late (it needs the engine's bridge gateway): a function
 * called by `start`.
 */
export function withServiceHost<Agent extends StartStop>(
  agent: Agent,
  host: ServiceHost | (() => Promise<ServiceHost>),
): Agent & { setServices(services: readonly ServiceView[]): Promise<void> } {
  let made: ServiceHost | undefined = typeof host === 'function' ? undefined : host;
  let latest: readonly ServiceView[] | undefined;
  const agentStart = agent.start.bind(agent);
  const agentStop = agent.stop.bind(agent);
  return Object.assign(agent, {
    setServices(services: readonly ServiceView[]): Promise<void> {
      latest = services;
      return made?.setServices(services) ?? Promise.resolve();
    },
    async start() {
      if (made === undefined && typeof host === 'function') {
        made = await host();
        if (latest !== undefined) made.setServices(latest);
      }
      await made?.start();
      try {
        await agentStart();
      } catch (error) {
        await made?.stop();
        throw error;
      }
    },
    async stop() {
      try {
        await agentStop();
      } finally {
        await made?.stop();
      }
    },
  });
}
