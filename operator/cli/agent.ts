/**
 * `berth agent`: one host's node agent. Fed either by a directory of manifests (standalone,
 * like the kubelet's static pod directory) or by an operator (attached: register, heartbeat,
 * watch the assigned set, report status). Serves pod status and logs on its own port.
 * SIGINT/SIGTERM stop the agent's loops and leave every pod running: an agent restart adopts
 * them as they are.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentPodReport, AttachableAgent } from '../agent/attach.js';
import { attachToOperator } from '../agent/attach.js';
import {
  type AgentHttpServer,
  type AgentStatusSource,
  loadOrCreateToken,
  parseListenAddress,
  startAgentHttpServer,
} from '../agent/http-server.js';
import { parseCidr } from '../agent/service-proxy/rules.js';
import { type DesiredSet, watchManifestDir } from '../agent/standalone.js';
import { createNodeClient } from '../api/node-client.js';
import { DEFAULT_AGENT_PORT } from '../api/protocol.js';
import { defaultNodeDataDir } from '../model/data-dirs.js';
import { BerthError } from '../model/errors.js';
import type { Pod } from '../model/generated/types.js';
import { isDns1123Subdomain, validateLabels } from '../model/labels.js';
import { formatProblem } from '../model/problem.js';
import { DEFAULT_SERVICE_CIDR } from '../services/types.js';
import { type CliIo, EXIT, processStopSignal, writeLine } from './io.js';

export const AGENT_HELP = `Usage: berth agent --manifests DIR [options]
       berth agent --server URL (--token TOKEN | --token-file PATH) [options]

Run this host's node agent: make the pods assigned to it run on the local Docker Engine.
Stopping the agent (SIGINT, SIGTERM) leaves its pods running; started again, it adopts them.

Where the pods come from (exactly one):
      --manifests DIR     standalone: run the Pods in DIR and follow its changes within a
                          second (add, change, delete files). A file that fails to load keeps
                          its last good version; ReplicationControllers and Services need an
                          operator and are reported as ignored.
      --server URL        attached: register with the operator at URL, heartbeat, run the
                          pods it assigns to this node and report their status.

Options:
      --token TOKEN       bearer token: the operator's (required with --server) and the one
                          this agent's own port requires (@default $BERTH_TOKEN; without either,
                          standalone uses DATA_DIR/token, made with mode 0600 on first start)
      --token-file PATH   read the token from PATH instead, e.g. the DATA_DIR/token of
                          \`berth serve\` on the same host
      --name NAME         node name, a DNS-1123 subdomain (@default the host name, lower-cased);
                          --node-name NAME is the same
      --labels K=V,...    node labels told to the operator (@default none)
      --data-dir DIR      the agent's own files: emptyDir volumes, token
                          (@default $XDG_DATA_HOME/berth/nodes/NAME, else
                          ~/.local/share/berth/nodes/NAME)
      --listen HOST:PORT  where to serve pod status and logs (GET /v1/pods,
                          /v1/pods/NS/NAME, /v1/pods/NS/NAME/log?container=&follow=1&tail=N,
                          open /healthz); port 0 picks a free port, "off" serves nothing
                          (@default 127.0.0.1:${DEFAULT_AGENT_PORT})
      --service-cidr CIDR the range the operator's cluster IPs come from; attached agents
                          carry services there (iptables, needs root) and answer cluster DNS
                          on port 53 of Docker's bridge gateway (@default ${DEFAULT_SERVICE_CIDR})
  -h, --help              show this help

The address served on is printed at start ("serving on http://..."). Exit status: 0 after a
clean stop, 2 on a usage error or a failure a person must fix (wrong token, bad directory).`;

/** The node agent as this command drives it (node-agent.ts's NodeAgent has this shape). */
export interface ShellAgent extends AttachableAgent, AgentStatusSource {
  pods(): readonly AgentPodReport[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What the node agent is made with. */
export interface ShellAgentOptions {
  readonly node: string;
  readonly dataDir: string;
  /** Attached mode: the node carries services (proxy and DNS) in this range. Standalone: absent. */
  readonly serviceCidr?: string;
  /** Trouble of the agent's own (the service host's), one line each. */
  readonly log?: (line: string) => void;
}

export interface AgentCommandDeps {
  /** Makes the node agent. @default the Docker runtime and the real node agent */
  readonly createAgent?: (options: ShellAgentOptions) => Promise<ShellAgent>;
  /** Aborted to stop. @default aborted by SIGINT or SIGTERM */
  readonly stopSignal?: AbortSignal;
}

/** The real agent on the local Docker Engine, loaded when used so other commands never load dockerode. */
async function createRealAgent(options: ShellAgentOptions): Promise<ShellAgent> {
  const [{ createNodeAgent, defaultHostIp }, { createDockerRuntime }, services] = await Promise.all(
    [
      import('../agent/node-agent.js'),
      import('../agent/docker-runtime.js'),
      import('../agent/service-host.js'),
    ],
  );
  // One host address for both: the status the agent reports and the HOST_IP env pods get.
  const hostIp = defaultHostIp();
  const { node, dataDir, serviceCidr } = options;
  if (serviceCidr === undefined) {
    return createNodeAgent({
      runtime: createDockerRuntime({ hostIP: hostIp }),
      hostIp,
      node,
      dataDir,
    });
  }
  // Attached: pods' name server is the cluster DNS on the default bridge's gateway.
  const runtime = createDockerRuntime({ hostIP: hostIp, clusterDns: {} });
  const agent = createNodeAgent({ runtime, hostIp, node, dataDir });
  return services.withServiceHost(agent, async () =>
    services.createServiceHost({
      serviceCidr,
      dnsHost: await runtime.bridgeGateway(),
      ...(options.log === undefined ? {} : { log: options.log }),
    }),
  );
}

export function parseNodeLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return labels;
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) {
      throw new BerthError('CLI_USAGE', `--labels: "${pair}" is not KEY=VALUE`, {
        hint: 'e.g. --labels disk=ssd,zone=a',
      });
    }
    labels[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  const problems = validateLabels(labels);
  if (problems.length > 0) {
    throw new BerthError(
      'CLI_USAGE',
      `--labels: ${problems.map((p) => `${p.part} of "${p.key ?? ''}": ${p.message}`).join('; ')}`,
    );
  }
  return labels;
}

/** The host name as a node name: lower-cased, anything else than [a-z0-9.-] turned into `-`. */
export function defaultNodeName(hostname = os.hostname()): string {
  const name = hostname
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return name === '' ? 'node' : name;
}

export function defaultDataDir(env: NodeJS.ProcessEnv, node: string): string {
  return defaultNodeDataDir(env, node);
}

/**
 * The agent port's address as the operator should reach it: bound to every interface
 * (0.0.0.0, ::), that is the host's first non-loopback IPv4 address, else the bound address.
 */
export function advertisedAddress(
  http: Pick<AgentHttpServer, 'url' | 'address'>,
  interfaces = os.networkInterfaces(),
): string {
  if (http.address.address !== '0.0.0.0' && http.address.address !== '::') return http.url;
  for (const entries of Object.values(interfaces)) {
    const external = entries?.find((entry) => entry.family === 'IPv4' && !entry.internal);
    if (external !== undefined) return `http://${external.address}:${http.address.port}`;
  }
  return http.url;
}

/** A token kept in a file (one line; surrounding white space ignored). */
async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    throw new BerthError('CLI_USAGE', `--token-file ${file}: ${(error as Error).message}`, {
      hint: "berth serve keeps its token in its data dir's token file",
    });
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) {
    throw new BerthError('CLI_USAGE', `--token-file ${file} does not hold one token`);
  }
  return token;
}

function reportLoad(io: CliIo, set: DesiredSet): void {
  for (const problem of set.problems) writeLine(io.stderr, formatProblem(problem));
  for (const file of set.keptFiles) {
    writeLine(io.stderr, `berth agent: ${file} has problems; keeping its last good version`);
  }
  if (set.ignored.length > 0) {
    writeLine(
      io.stderr,
      `berth agent: ignored ${set.ignored.join(', ')} (standalone runs Pods only; use an operator)`,
    );
  }
  const names = set.pods.map((p: Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`);
  writeLine(
    io.stdout,
    `desired: ${set.pods.length} pod${set.pods.length === 1 ? '' : 's'} (version ${set.version})${names.length > 0 ? `: ${names.join(', ')}` : ''}`,
  );
}

export async function runAgent(
  argv: readonly string[],
  io: CliIo,
  deps: AgentCommandDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      manifests: { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      name: { type: 'string' },
      'node-name': { type: 'string' },
      labels: { type: 'string' },
      'data-dir': { type: 'string' },
      listen: { type: 'string' },
      'service-cidr': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, AGENT_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) {
    throw new BerthError('CLI_USAGE', `berth agent takes no arguments (got "${positionals[0]}")`, {
      hint: 'berth agent --manifests DIR, or berth agent --server URL --token TOKEN',
    });
  }
  if ((values.manifests === undefined) === (values.server === undefined)) {
    throw new BerthError('CLI_USAGE', 'berth agent needs exactly one of --manifests and --server', {
      hint: 'berth agent --manifests DIR, or berth agent --server URL --token TOKEN',
    });
  }
  if (
    values.name !== undefined &&
    values['node-name'] !== undefined &&
    values.name !== values['node-name']
  ) {
    throw new BerthError('CLI_USAGE', '--name and --node-name name different nodes', {
      hint: 'give one of them',
    });
  }
  const name = values.name ?? values['node-name'] ?? defaultNodeName();
  if (!isDns1123Subdomain(name)) {
    throw new BerthError('CLI_USAGE', `--name "${name}" is not a DNS-1123 subdomain`, {
      hint: 'lower-case letters, digits, "-" and "."; e.g. --name node-1',
    });
  }
  const labels = parseNodeLabels(values.labels);
  const listenText = values.listen ?? `127.0.0.1:${DEFAULT_AGENT_PORT}`;
  const listen = listenText === 'off' ? undefined : parseListenAddress(listenText);
  const dataDir = path.resolve(io.cwd, values['data-dir'] ?? defaultDataDir(io.env, name));
  if (values.token !== undefined && values['token-file'] !== undefined) {
    throw new BerthError('CLI_USAGE', 'give --token or --token-file, not both');
  }
  const fileToken =
    values['token-file'] === undefined
      ? undefined
      : await readTokenFile(path.resolve(io.cwd, values['token-file']));
  const givenToken =
    values.token ?? fileToken ?? (io.env.BERTH_TOKEN === '' ? undefined : io.env.BERTH_TOKEN);
  let server: URL | undefined;
  if (values.server !== undefined) {
    try {
      server = new URL(values.server);
    } catch {
      server = undefined;
    }
    if (server === undefined || (server.protocol !== 'http:' && server.protocol !== 'https:')) {
      throw new BerthError('CLI_USAGE', `--server "${values.server}" is not an http(s) URL`);
    }
    if (givenToken === undefined) {
      throw new BerthError('CLI_USAGE', '--server needs --token, --token-file or $BERTH_TOKEN', {
        hint: 'give the token the operator was started with',
      });
    }
  }
  const serviceCidr = values['service-cidr'] ?? DEFAULT_SERVICE_CIDR;
  if (values['service-cidr'] !== undefined) {
    if (values.manifests !== undefined) {
      throw new BerthError('CLI_USAGE', '--service-cidr needs --server', {
        hint: 'standalone agents (--manifests) carry no services',
      });
    }
    try {
      parseCidr(serviceCidr);
    } catch {
      throw new BerthError('CLI_USAGE', `--service-cidr ${serviceCidr} is not an IPv4 CIDR`, {
        hint: `e.g. --service-cidr ${DEFAULT_SERVICE_CIDR}`,
      });
    }
  }
  let manifestDir: string | undefined;
  if (values.manifests !== undefined) {
    // Kept as typed when relative to the process's cwd, so messages show paths in the user's form.
    manifestDir =
      path.isAbsolute(values.manifests) || io.cwd === process.cwd()
        ? values.manifests
        : path.resolve(io.cwd, values.manifests);
    const stat = await fsp.stat(path.resolve(io.cwd, manifestDir)).catch(() => undefined);
    if (stat === undefined || !stat.isDirectory()) {
      throw new BerthError('CLI_USAGE', `--manifests ${manifestDir}: no such directory`);
    }
  }

  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = givenToken ?? (await loadOrCreateToken(dataDir));
  const owned = deps.stopSignal === undefined ? processStopSignal() : undefined;
  const stopSignal = deps.stopSignal ?? owned!.signal;

  const agent = await (deps.createAgent ?? createRealAgent)({
    node: name,
    dataDir,
    ...(server === undefined
      ? {}
      : { serviceCidr, log: (line: string) => writeLine(io.stderr, `berth agent: ${line}`) }),
  });
  await agent.start();
  const cleanups: (() => Promise<void>)[] = [async () => agent.stop()];
  let exitCode: number = EXIT.ok;
  try {
    let http: AgentHttpServer | undefined;
    if (listen !== undefined) {
      http = await startAgentHttpServer({ agent, node: name, token }, listen.host, listen.port);
      cleanups.push(http.close);
      writeLine(io.stdout, `berth agent: node ${name}, serving on ${http.url}`);
    } else {
      writeLine(io.stdout, `berth agent: node ${name}, serving nothing (--listen off)`);
    }
    if (givenToken === undefined) {
      writeLine(io.stdout, `berth agent: token in ${path.join(dataDir, 'token')}`);
    }

    const stopped = new Promise<void>((resolve) => {
      if (stopSignal.aborted) resolve();
      else stopSignal.addEventListener('abort', () => resolve(), { once: true });
    });

    if (manifestDir !== undefined) {
      let applied: string | undefined;
      let started = false;
      const watch = watchManifestDir({
        dir: manifestDir,
        onLoad: (set) => {
          reportLoad(io, set);
          if (set.version !== applied) {
            applied = set.version;
            agent.setDesiredPods(set.pods, set.version);
          }
        },
        onError: (error) => {
          // Before the first load the failure ends the command (ready rejects); after, pods stay.
          if (started) {
            writeLine(
              io.stderr,
              `berth agent: cannot read ${manifestDir}: ${error instanceof Error ? error.message : String(error)}; keeping the current pods`,
            );
          }
        },
      });
      cleanups.push(() => watch.close());
      await watch.ready;
      started = true;
      await stopped;
    } else {
      const attachment = attachToOperator({
        agent,
        client: createNodeClient({ server: server!.toString(), token, name }),
        labels,
        ...(http === undefined ? {} : { address: advertisedAddress(http) }),
        log: (line) => writeLine(io.stderr, `berth agent: ${line}`),
      });
      cleanups.push(() => attachment.stop());
      writeLine(io.stdout, `berth agent: attaching to ${server!.origin}`);
      const failure = await Promise.race([
        stopped.then(() => undefined),
        attachment.done.then(
          () => undefined,
          (error: unknown) => error,
        ),
      ]);
      if (failure !== undefined) throw failure;
    }
  } catch (error) {
    exitCode = EXIT.error;
    throw error;
  } finally {
    // Feeds first, so nothing hands the agent a new set while it stops; pods keep running.
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) =>
        writeLine(io.stderr, `berth agent: while stopping: ${String(error)}`),
      );
    }
    owned?.dispose();
    if (exitCode === EXIT.ok) writeLine(io.stdout, 'berth agent: stopped; pods left running');
  }
  return exitCode;
}
