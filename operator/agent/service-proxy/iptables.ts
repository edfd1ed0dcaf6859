import { spawn } from 'node:child_process';
import { BerthError } from '../../model/errors.js';
import type { ServiceView } from '../../services/types.js';
import {
  cidrsOverlap,
  DEFAULT_CHAIN_PREFIX,
  declaredChains,
  type JumpRule,
  jumpRules,
  ownChains,
  type ProgrammedPort,
  parseCidr,
  programmedPorts,
  proxyChains,
  proxyRules,
} from './rules.js';

/**
 * The service proxy on a real host: iptables rules (rules.ts) applied with one
 * `iptables-restore --noflush` per change, a sink route that keeps the service range on the
 * machine, and the few host settings node ports need. Every command has a deadline.
 *
 * The sink: the service range is routed to `berth-svc0`, a bridge with no ports. A packet to a
 * cluster IP that no rule rewrites (no rules yet, rules removed, an address not allocated)
 * goes there and is dropped, so it can time out but never leave by the default gateway.
 */

export const DEFAULT_SINK_DEVICE = 'berth-svc0';
/** Deadline of one command (iptables-restore of a few thousand rules takes well under this). */
const COMMAND_TIMEOUT_MS = 15_000;

export interface ServiceProxyOptions {
  /** The service range; the sink route covers it and rules are written only for it. */
  readonly serviceCidr: string;
  /** Trouble and notes worth a line (a missing conntrack tool, a failed sync). */
  readonly log?: (line: string) => void;
  /** Node port addresses (see ProxyRulesOptions.nodeIPs); default every local address. */
  readonly nodeIPs?: readonly string[];
  /** Chain name prefix (default BERTH); a test uses its own. */
  readonly chainPrefix?: string;
  /** The sink bridge (default berth-svc0); a test uses its own. */
  readonly sinkDevice?: string;
  /** Runs one command (default runCommand); a test passes a fake host. */
  readonly run?: CommandRunner;
  /** The user id the checks see (default process.getuid()); a test passes a fake host's. */
  readonly uid?: number;
}

export type CommandRunner = (
  command: string,
  args: readonly string[],
  input?: string,
) => Promise<CommandResult>;

export interface ServiceProxy {
  /**
   * Checks the host (root, iptables), sets `net.ipv4.conf.all.route_localnet=1`, creates the
   * sink bridge and route if missing (refusing a range that overlaps a route that is not
   * berth's) and makes sure each jump rule exists exactly once. Rules already there from an
   * earlier agent stay in force until the first sync replaces them.
   */
  start(): Promise<void>;
  /**
   * Makes the rules match `services`: one atomic restore; a call made while one runs is
   * coalesced with the ones after it (only the newest set is applied); the same text as the
   * last applied is not applied again.
   */
  sync(services: readonly ServiceView[]): Promise<void>;
  /**
   * Stops syncing. The rules stay unless `removeRules` (an agent restart keeps connections
   * and service addresses working); with it, the jumps, chains, sink route and bridge go.
   */
  stop(options?: { readonly removeRules?: boolean }): Promise<void>;
}

export function createServiceProxy(options: ServiceProxyOptions): ServiceProxy {
  return new IptablesServiceProxy(options);
}

/** The result of one command; a non-zero exit is not thrown (callers decide). */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command with a deadline (SIGKILL after it); ENOENT gives code 127. */
export function runCommand(
  command: string,
  args: readonly string[],
  input?: string,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // a command that exits before reading its input
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT')
        resolve({ code: 127, stdout: '', stderr: `${command}: not found` });
      else reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new BerthError(
            'PROXY_FAILED',
            `${command} ${args.join(' ')} did not finish within ${timeoutMs} ms`,
            {
              retry: true,
              hint: 'Another process may hold the xtables lock; the next sync tries again.',
            },
          ),
        );
        return;
      }
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(input ?? '');
  });
}

class IptablesServiceProxy implements ServiceProxy {
  private readonly log: (line: string) => void;
  private readonly prefix: string;
  private readonly sink: string;
  private lastApplied: string | undefined;
  /** Service and endpoint chains of the nat table now (read once, then tracked). */
  private natChains: readonly string[] | undefined;
  private lastPorts: readonly ProgrammedPort[] = [];
  private running: Promise<void> | undefined;
  private pending: { services: readonly ServiceView[]; waiters: Waiter[] } | undefined;
  private stopped = false;
  private conntrack: boolean | undefined;
  private readonly run: CommandRunner;

  constructor(private readonly options: ServiceProxyOptions) {
    this.log = options.log ?? (() => {});
    this.run = options.run ?? runCommand;
    this.prefix = options.chainPrefix ?? DEFAULT_CHAIN_PREFIX;
    this.sink = options.sinkDevice ?? DEFAULT_SINK_DEVICE;
    parseCidr(options.serviceCidr);
    proxyChains(this.prefix);
  }

  async start(): Promise<void> {
    const uid = this.options.uid ?? process.getuid?.();
    if (uid !== undefined && uid !== 0) {
      throw new BerthError(
        'PROXY_UNAVAILABLE',
        'the service proxy needs root (it writes iptables rules and routes)',
        {
          hint: 'Run the agent as root, or without services.',
        },
      );
    }
    for (const tool of ['iptables', 'iptables-restore', 'iptables-save', 'ip', 'sysctl']) {
      const found = await this.run(
        tool,
        tool === 'ip' || tool === 'sysctl' ? ['-V'] : ['--version'],
      );
      if (found.code === 127) {
        throw new BerthError(
          'PROXY_UNAVAILABLE',
          `the service proxy needs ${tool}, which is not installed`,
          {
            hint: 'Install iptables and iproute2 (Debian: apt-get install iptables iproute2 procps).',
          },
        );
      }
    }
    await this.must('sysctl', ['-w', 'net.ipv4.conf.all.route_localnet=1']);
    await this.ensureSink();
    await this.ensureChains();
    for (const jump of jumpRules(this.prefix)) await this.ensureJump(jump);
  }

  sync(services: readonly ServiceView[]): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('service proxy stopped'));
    return new Promise((resolve, reject) => {
      if (this.pending === undefined) this.pending = { services, waiters: [] };
      else this.pending.services = services;
      this.pending.waiters.push({ resolve, reject });
      if (this.running === undefined) this.running = this.drain();
    });
  }

  async stop(options: { readonly removeRules?: boolean } = {}): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => {});
    if (options.removeRules !== true) return;
    for (const jump of jumpRules(this.prefix)) {
      while ((await this.iptables(jump.table, ['-C', jump.chain, ...jump.rule])).code === 0) {
        await this.mustIptables(jump.table, ['-D', jump.chain, ...jump.rule]);
      }
    }
    for (const table of ['nat', 'filter'] as const) {
      const chains = ownChains(await this.save(table), this.prefix);
      if (chains.length === 0) continue;
      const text = [
        `*${table}`,
        ...chains.map((name) => `:${name} - [0:0]`),
        ...chains.map((name) => `-X ${name}`),
        'COMMIT',
        '',
      ].join('\n');
      await this.must('iptables-restore', ['-w', '5', '--noflush'], text);
    }
    await this.run('ip', ['route', 'del', this.options.serviceCidr, 'dev', this.sink]);
    await this.run('ip', ['link', 'del', this.sink]);
    this.lastApplied = undefined;
    this.natChains = undefined;
  }

  private async drain(): Promise<void> {
    while (this.pending !== undefined) {
      const { services, waiters } = this.pending;
      this.pending = undefined;
      try {
        await this.apply(services);
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        this.log(`service proxy: sync failed: ${(error as Error).message}`);
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.running = undefined;
  }

  private async apply(services: readonly ServiceView[]): Promise<void> {
    this.natChains ??= declaredChains(await this.save('nat'));
    const ruleOptions = {
      serviceCidr: this.options.serviceCidr,
      chainPrefix: this.prefix,
      existingChains: this.natChains,
      ...(this.options.nodeIPs === undefined ? {} : { nodeIPs: this.options.nodeIPs }),
    };
    // Compared without the deletions: once applied, no stale chain is left to delete.
    const wanted = proxyRules(services, { ...ruleOptions, existingChains: [] });
    if (wanted === this.lastApplied) return;
    const text = proxyRules(services, ruleOptions);
    const ports = programmedPorts(services, ruleOptions);
    await this.must('iptables-restore', ['-w', '5', '--noflush'], text);
    this.lastApplied = wanted;
    // What the nat table holds now: the chains just declared minus the ones just deleted.
    const deleted = new Set(
      text
        .split('\n')
        .filter((line) => line.startsWith('-X '))
        .map((line) => line.slice(3)),
    );
    this.natChains = declaredChains(text.slice(0, text.indexOf('COMMIT'))).filter(
      (name) => !deleted.has(name),
    );
    const before = this.lastPorts;
    this.lastPorts = ports;
    await this.forgetUdpEndpoints(before, ports);
  }

  /**
   * A UDP "connection" is a conntrack entry that keeps sending a client's datagrams to the
   * endpoint it first got, for as long as the client keeps talking: entries to an endpoint
   * that left are deleted so the client moves to one that is there.
   */
  private async forgetUdpEndpoints(
    before: readonly ProgrammedPort[],
    after: readonly ProgrammedPort[],
  ): Promise<void> {
    const now = new Map(after.map((p) => [p.chain, new Set(p.endpoints.map((e) => e.ip))]));
    const deletions: string[][] = [];
    for (const p of before) {
      if (p.port.protocol !== 'UDP') continue;
      const kept = now.get(p.chain) ?? new Set<string>();
      for (const endpoint of p.endpoints) {
        if (kept.has(endpoint.ip)) continue;
        if (p.clusterIP !== undefined) {
          deletions.push(['-D', '-p', 'udp', '--orig-dst', p.clusterIP, '--dst-nat', endpoint.ip]);
        }
        if (p.port.nodePort !== undefined) {
          deletions.push([
            '-D',
            '-p',
            'udp',
            '--orig-port-dst',
            String(p.port.nodePort),
            '--dst-nat',
            endpoint.ip,
          ]);
        }
      }
    }
    if (deletions.length === 0) return;
    if (this.conntrack === undefined) {
      this.conntrack = (await this.run('conntrack', ['--version'])).code !== 127;
      if (!this.conntrack) {
        this.log(
          'service proxy: the conntrack tool is not installed; UDP clients of an endpoint that left keep sending to it until their conntrack entry expires (30 s idle). Install conntrack to delete them at once.',
        );
      }
    }
    if (!this.conntrack) return;
    for (const args of deletions) {
      // Exit 1 is "0 flow entries have been deleted": nothing to forget.
      const result = await this.run('conntrack', args);
      if (result.code !== 0 && result.code !== 1) {
        this.log(`service proxy: conntrack ${args.join(' ')}: ${result.stderr.trim()}`);
      }
    }
  }

  private async ensureSink(): Promise<void> {
    const range = this.options.serviceCidr;
    const routes = await this.must('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
    let ours = false;
    for (const line of routes.stdout.split('\n')) {
      const route = parseRoute(line);
      if (route === undefined) continue;
      if (route.dev === this.sink) {
        if (route.dest === range) ours = true;
        continue;
      }
      if (route.dest === 'default' || route.dest === '0.0.0.0/0') continue;
      if (overlaps(route.dest, range)) {
        throw new BerthError(
          'PROXY_RANGE_CONFLICT',
          `the service range ${range} overlaps the route ${line.trim()}`,
          {
            hint: 'Choose a service range (--service-cidr) that no network of this host uses.',
          },
        );
      }
    }
    const link = await this.run('ip', ['-o', 'link', 'show', 'dev', this.sink]);
    if (link.code !== 0) {
      await this.must('ip', ['link', 'add', this.sink, 'type', 'bridge']);
    } else if (
      !/\bbridge\b/.test(
        (await this.run('ip', ['-d', '-o', 'link', 'show', 'dev', this.sink])).stdout,
      )
    ) {
      throw new BerthError(
        'PROXY_RANGE_CONFLICT',
        `${this.sink} exists and is not berth's sink bridge`,
        {
          hint: `Remove it (ip link del ${this.sink}) if nothing else uses it.`,
        },
      );
    }
    await this.must('ip', ['link', 'set', this.sink, 'up']);
    if (!ours) await this.must('ip', ['route', 'replace', range, 'dev', this.sink]);
  }

  /** The fixed chains must exist before the jumps to them; an existing chain keeps its rules. */
  private async ensureChains(): Promise<void> {
    const c = proxyChains(this.prefix);
    const tables = {
      nat: [c.services, c.nodePorts, c.postrouting, c.markMasq],
      filter: [c.reject, c.firewall],
    };
    for (const [table, chains] of Object.entries(tables) as ['nat' | 'filter', string[]][]) {
      const existing = new Set(declaredChains(await this.save(table)));
      for (const chain of chains) {
        if (!existing.has(chain)) await this.mustIptables(table, ['-N', chain]);
      }
    }
  }

  private async ensureJump(jump: JumpRule): Promise<void> {
    const listed = await this.mustIptables(jump.table, ['-S', jump.chain]);
    const expected = `-A ${jump.chain} ${jump.rule.join(' ')}`;
    const count = listed.stdout.split('\n').filter((line) => line.trim() === expected).length;
    if (count === 1) return;
    for (let i = 0; i < count; i++)
      await this.mustIptables(jump.table, ['-D', jump.chain, ...jump.rule]);
    await this.mustIptables(jump.table, ['-I', jump.chain, '1', ...jump.rule]);
  }

  private async save(table: 'nat' | 'filter'): Promise<string> {
    return (await this.must('iptables-save', ['-t', table])).stdout;
  }

  private iptables(table: string, args: readonly string[]): Promise<CommandResult> {
    return this.run('iptables', ['-w', '5', '-t', table, ...args]);
  }

  private async mustIptables(table: string, args: readonly string[]): Promise<CommandResult> {
    return this.must('iptables', ['-w', '5', '-t', table, ...args]);
  }

  private async must(
    command: string,
    args: readonly string[],
    input?: string,
  ): Promise<CommandResult> {
    const result = await this.run(command, args, input);
    if (result.code !== 0) {
      throw new BerthError(
        'PROXY_FAILED',
        `${command} ${args.join(' ')} failed (exit ${result.code}): ${firstLines(result.stderr)}`,
        { retry: true, hint: 'The next sync tries again; the agent log has the failing command.' },
      );
    }
    return result;
  }
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

const ROUTE_TYPES = new Set([
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'throw',
  'unreachable',
  'prohibit',
  'blackhole',
  'nat',
  'anycast',
]);

/** Destination and device of one `ip -o route show` line; undefined for an empty line. */
export function parseRoute(line: string): { dest: string; dev: string | undefined } | undefined {
  const tokens = line
    .trim()
    .split(/\s+/)
    .filter((token) => token !== '');
  let first = tokens[0];
  if (first === undefined) return undefined;
  if (ROUTE_TYPES.has(first)) first = tokens[1];
  if (first === undefined) return undefined;
  const dest = first === 'default' ? 'default' : first.includes('/') ? first : `${first}/32`;
  const devAt = tokens.indexOf('dev');
  return { dest, dev: devAt === -1 ? undefined : tokens[devAt + 1] };
}

/** False for a destination that is not an IPv4 CIDR (nothing of the range can be behind it). */
function overlaps(dest: string, range: string): boolean {
  try {
    return cidrsOverlap(dest, range);
  } catch {
    return false;
  }
}

function firstLines(text: string): string {
  return text.trim().split('\n').slice(0, 5).join('; ');
}
