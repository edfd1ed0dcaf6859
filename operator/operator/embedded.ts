/**
 * The embedded operator: one process holding the store (the data dir's lock), the node
 * endpoint (loopback by default), the engine with its state in the store, and, unless told
 * otherwise, this host's node agent attached to the endpoint like any remote one. `berth apply`
 * runs it for one command; `berth serve` runs it with its API on the same HTTP server. `close`
 * stops the loops and leaves pods running, so the next operator on the same data dir adopts them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Attachment, attachToOperator } from '../agent/attach.js';
import { type Clock, systemClock } from '../agent/lifecycle/clock.js';
import { createNodeClient } from '../api/node-client.js';
import { createNodeEndpoint, type NodeEndpoint } from '../api/node-endpoint.js';
import type { NodeEvent } from '../api/protocol.js';
import type { RandomSource } from '../controllers/pod-names.js';
import { DEFAULT_NODE_GRACE_MS } from '../engine/decide.js';
import { createEngine, type Engine, type PassReport } from '../engine/engine.js';
import { createStoreState } from '../engine/store-state.js';
import { defaultOperatorDataDir } from '../model/data-dirs.js';
import { BerthError } from '../model/errors.js';
import type { Pod } from '../model/generated/types.js';
import type { ServiceView } from '../services/types.js';
import { DEFAULT_ALLOCATION_OPTIONS } from '../services/views.js';
import { openStore, type Store } from '../store/store.js';
import { createLocalNodeClient } from './local-node-client.js';

/** What the embedded operator drives of the local node agent (NodeAgent has this shape). */
export interface LocalAgent {
  setDesiredPods(pods: readonly Pod[], version: string): void;
  pods(): readonly { namespace: string; name: string; uid: string; status: object }[];
  onChange(listener: () => void): () => void;
  /** Events to carry to the operator (drift repaired); agents without them leave it out. */
  onPodEvent?(listener: (event: Omit<NodeEvent, 'id'>) => void): () => void;
  capacity(): Promise<{ cpu: number; memoryBytes: number }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `namespace/name` of every pod with a container on the engine (removed ones linger). */
  podsOnEngine(): Promise<ReadonlySet<string>>;
  /** The services this node carries (its proxy and DNS); agents without them leave it out. */
  setServices?(services: readonly ServiceView[]): void | Promise<void>;
}

/** What the local agent is made with. */
export interface LocalAgentOptions {
  readonly node: string;
  readonly dataDir: string;
  /** The range cluster IPs come from (the agent's service proxy). @default DEFAULT_SERVICE_CIDR */
  readonly serviceCidr?: string;
  /** Background trouble, one line each. */
  readonly log?: (line: string) => void;
}

export interface EmbeddedOperatorOptions {
  /** @default ~/.local/share/berth/operator (or $XDG_DATA_HOME/berth/operator), as `berth get` */
  readonly dataDir?: string;
  /** @default the host name */
  readonly nodeName: string;
  /** Makes the local agent. @default the Docker runtime and the real node agent */
  readonly createAgent?: (options: LocalAgentOptions) => Promise<LocalAgent>;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** Background trouble (agent attachment, engine passes), one line each. */
  readonly log?: (line: string) => void;
  /** Told of every engine pass (its duration), e.g. for metrics. @default ignored */
  readonly onPass?: (pass: PassReport) => void;
  /** Where the node endpoint (and `handler`) listen; port 0 picks a free port. @default 127.0.0.1:0 */
  readonly listen?: { readonly host: string; readonly port: number };
  /** The bearer token agents must give. @default random, new on every start */
  readonly token?: string;
  /** Run this host's node agent in the process. False: nodes are remote agents only. @default true */
  readonly localAgent?: boolean;
  /** Silence after which a node is NotReady. @default DEFAULT_NODE_GRACE_MS (40 s) */
  readonly nodeGraceMs?: number;
  /** Silence after which a NotReady node's RC pods are replaced elsewhere. @default 60 s */
  readonly evictionTimeoutMs?: number;
  /** The range cluster IPs come from, handed to the local agent's service proxy. @default DEFAULT_SERVICE_CIDR */
  readonly serviceCidr?: string;
  /**
   * Serves every request whose path starts with `/api/` or `/git/` on the endpoint's HTTP
   * server (the node protocol keeps `/v1/nodes/...`). Made once the operator is assembled; until then such
   * requests are answered 503.
   */
  readonly handler?: (operator: EmbeddedOperator) => RequestHandler;
  /**
   * Wraps the endpoint the engine hands each node's pod set to (berth serve stamps every app's
   * drift policy on its pods there). @default the endpoint itself
   */
  readonly handOut?: (endpoint: NodeEndpoint, store: Store) => NodeEndpoint;
}

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface EmbeddedOperator {
  readonly engine: Engine;
  readonly endpoint: NodeEndpoint;
  /** This host's node agent; undefined when started with `localAgent: false`. */
  readonly agent: LocalAgent | undefined;
  readonly store: Store;
  readonly nodeName: string;
  readonly dataDir: string;
  /** Where agents (and the `handler`'s clients) reach this operator, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  /** The bearer token agents give. */
  readonly token: string;
  readonly nodeGraceMs: number;
  /**
   * Settles true when the local node has registered and heartbeat (the engine can place pods);
   * without a local agent, when any node has. False at the timeout.
   */
  nodeReady(timeoutMs: number): Promise<boolean>;
  /** Stops loops and the endpoint, leaves pods running, releases the lock. Safe twice. */
  close(): Promise<void>;
}

/** The local agent's backstop relist of the engine. */
const LOCAL_AGENT_RELIST_MS = 30_000;

async function createDockerAgent(options: LocalAgentOptions): Promise<LocalAgent> {
  // Loaded when used, so commands that never run pods never load dockerode.
  const [{ createNodeAgent, defaultHostIp }, { createDockerRuntime }, services] = await Promise.all(
    [
      import('../agent/node-agent.js'),
      import('../agent/docker-runtime.js'),
      import('../agent/service-host.js'),
    ],
  );
  const hostIp = defaultHostIp();
  // Pods' name server is the cluster DNS on the default bridge's gateway.
  const runtime = createDockerRuntime({ hostIP: hostIp, clusterDns: {} });
  const agent = createNodeAgent({
    runtime,
    hostIp,
    node: options.node,
    dataDir: options.dataDir,
    // Docker's events wake pods at once and resume from the last one seen after a break, so
    // the relist is a backstop only; a long-running operator need not list every 10 s.
    relistIntervalMs: LOCAL_AGENT_RELIST_MS,
  });
  const local = Object.assign(agent, {
    async podsOnEngine(): Promise<ReadonlySet<string>> {
      const containers = await runtime.list(options.node);
      return new Set(containers.map((c) => `${c.podNamespace}/${c.podName}`));
    },
  });
  const serviceCidr = options.serviceCidr;
  if (serviceCidr !== undefined) services.checkServiceCidr(serviceCidr);
  return services.withServiceHost(local, async () =>
    services.createServiceHost({
      ...(serviceCidr === undefined ? {} : { serviceCidr }),
      dnsHost: await runtime.bridgeGateway(),
      ...(options.log === undefined ? {} : { log: options.log }),
    }),
  );
}

/**
 * The app a pod belongs to: the one whose inventory holds the pod, or the
 * ReplicationController that made it (its controller reference); undefined when none does.
 */
export function appOfPod(store: Store, namespace: string, name: string): string | undefined {
  const assignment = store.assignments().find((entry) => entry.podKey === `${namespace}/${name}`);
  const pod = assignment?.pod as Pod | undefined;
  const owner = pod?.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  const keys = new Set([`Pod/${namespace}/${name}`]);
  if (owner !== undefined) keys.add(`${owner.kind}/${namespace}/${owner.name}`);
  for (const app of store.inventoryApps()) {
    if (store.inventory(app).some((entry) => keys.has(entry.key))) return app;
  }
  return undefined;
}

/** Stores the events agents report, each with its pod's app when the operator knows it. */
function persistEvents(
  endpoint: NodeEndpoint,
  store: Store,
  log: (line: string) => void,
): () => void {
  return endpoint.onEvents((node, events) => {
    for (const event of events) {
      try {
        const app = appOfPod(store, event.namespace, event.pod);
        store.addEvent({
          at: event.at,
          type: event.type,
          reason: event.reason,
          object: `pod/${event.pod}`,
          ...(app === undefined ? {} : { app }),
          node,
          message: event.message,
        });
      } catch (error) {
        log(`cannot store an event of node ${node}: ${String(error)}`);
      }
    }
  });
}

/** Heartbeats come often enough that three missed ones fit in the node grace (at most every 5 s). */
export function heartbeatIntervalFor(nodeGraceMs: number): number {
  return Math.min(5, Math.max(0.2, nodeGraceMs / 3000));
}

/** The engine's backstop pass while nothing turns with time alone. */
const ENGINE_SETTLED_RESYNC_MS = 30_000;

/** The probe and metrics paths, served by the handler like `/api/...`. */
const HANDLER_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Serves `/api/...`, `/git/...`, `/healthz`, `/readyz` and `/metrics` with the handler (once
 * there is one), the rest with the endpoint.
 */
async function listenHttp(
  endpoint: NodeEndpoint,
  api: () => RequestHandler | undefined,
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (
      url === '/api' ||
      url.startsWith('/api/') ||
      url.startsWith('/api?') ||
      url === '/git' ||
      url.startsWith('/git/') ||
      HANDLER_PATHS.has(url.replace(/[?#].*$/, ''))
    ) {
      const handler = api();
      if (handler !== undefined) {
        handler(request, response);
        return;
      }
      response.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify({ code: 'SERVER_UNREACHABLE', message: 'operator starting' }));
      return;
    }
    endpoint.handle(request, response);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new BerthError(
      'SERVER_LISTEN_FAILED',
      `cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: 'give a free address with --listen HOST:PORT (port 0 picks a free port)',
        cause: error,
      },
    );
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Parked watches would hold close() for their whole timeout.
        server.closeAllConnections();
      }),
  };
}

/**
 * Keeps the store's node registry in step with the endpoint, so `berth get nodes` reads nodes
 * without a running operator: a registration (or a changed one) at once, a heartbeat when it
 * is the first since registering or comes `heartbeatEveryMs` after the one stored (a node back
 * from silence is one), and on stopping the last one heard. Readers of the store alone judge
 * a node Ready for the node grace after its stored heartbeat, so `heartbeatEveryMs` plus the
 * heartbeat interval must stay under the grace.
 */
function persistNodes(
  endpoint: NodeEndpoint,
  store: Store,
  heartbeatEveryMs: number,
  log: (line: string) => void,
): () => void {
  const registered = new Map<string, string>();
  const heartbeatWritten = new Map<string, number>();
  const writeHeartbeat = (name: string, at: number): void => {
    store.recordHeartbeat(name, new Date(at).toISOString());
    heartbeatWritten.set(name, at);
  };
  const unsubscribe = endpoint.onChange((name) => {
    const record = endpoint.node(name);
    if (record === undefined) return;
    try {
      const registration = JSON.stringify([
        record.registeredAt,
        record.labels,
        record.capacity,
        record.address ?? null,
      ]);
      if (registered.get(name) !== registration) {
        store.upsertNode({
          name,
          labels: record.labels,
          capacity: record.capacity,
          ...(record.address === undefined ? {} : { address: record.address }),
          registeredAt: new Date(record.registeredAt).toISOString(),
        });
        registered.set(name, registration);
        heartbeatWritten.delete(name);
      }
      const written = heartbeatWritten.get(name);
      if (written === undefined || record.lastHeartbeatAt - written >= heartbeatEveryMs) {
        writeHeartbeat(name, record.lastHeartbeatAt);
      }
    } catch (error) {
      log(`cannot store node ${name}: ${String(error)}`);
    }
  });
  return () => {
    unsubscribe();
    for (const [name, written] of heartbeatWritten) {
      const record = endpoint.node(name);
      if (record === undefined || record.lastHeartbeatAt <= written) continue;
      try {
        writeHeartbeat(name, record.lastHeartbeatAt);
      } catch (error) {
        log(`cannot store node ${name}: ${String(error)}`);
      }
    }
  };
}

/**
 * How often a node's heartbeat goes to the store: at most every half grace less one
 * interval, so a stored heartbeat is at most half the grace behind while the node beats.
 */
function heartbeatPersistIntervalMs(nodeGraceMs: number, heartbeatIntervalSeconds: number): number {
  return Math.max(1000, nodeGraceMs / 2 - heartbeatIntervalSeconds * 1000);
}

export async function startEmbeddedOperator(
  options: EmbeddedOperatorOptions,
): Promise<EmbeddedOperator> {
  const dataDir = options.dataDir ?? defaultOperatorDataDir();
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => {});
  const nodeName = options.nodeName;
  const nodeGraceMs = options.nodeGraceMs ?? DEFAULT_NODE_GRACE_MS;
  const heartbeatIntervalSeconds =
    options.nodeGraceMs === undefined ? 5 : heartbeatIntervalFor(options.nodeGraceMs);

  const store = openStore(dataDir);
  const cleanups: (() => Promise<void>)[] = [async () => store.close()];
  const runCleanups = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => log(`while stopping: ${String(error)}`));
    }
  };
  try {
    const token = options.token ?? randomBytes(24).toString('hex');
    const endpoint = createNodeEndpoint({
      token,
      heartbeatIntervalSeconds,
      now: () => clock.now(),
    });
    const state = createStoreState(store, { now: () => new Date(clock.now()).toISOString() });

    // The nodes get their stored pod sets before any agent asks: an agent handed an empty
    // set would stop the pods a previous operator left running.
    const stored = new Map<string, Pod[]>();
    for (const { pod, node } of state.load().pods.values()) {
      if (node === undefined) continue;
      stored.set(node, [...(stored.get(node) ?? []), pod]);
    }
    const handOut = options.handOut?.(endpoint, store) ?? endpoint;
    for (const [node, pods] of stored) handOut.assign(node, pods);

    const unpersist = persistNodes(
      endpoint,
      store,
      heartbeatPersistIntervalMs(nodeGraceMs, heartbeatIntervalSeconds),
      log,
    );
    cleanups.push(async () => unpersist());
    const unpersistEvents = persistEvents(endpoint, store, log);
    cleanups.push(async () => unpersistEvents());

    let api: RequestHandler | undefined;
    const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
    const server = await listenHttp(endpoint, () => api, listen.host, listen.port);
    cleanups.push(() => server.close());

    const engine = createEngine({
      endpoint: handOut,
      state,
      clock,
      random,
      heartbeatIntervalMs: heartbeatIntervalSeconds * 1000,
      ...(options.nodeGraceMs === undefined ? {} : { nodeGraceMs: options.nodeGraceMs }),
      ...(options.evictionTimeoutMs === undefined
        ? {}
        : { evictionTimeoutMs: options.evictionTimeoutMs }),
      ...(options.serviceCidr === undefined
        ? {}
        : { allocation: { ...DEFAULT_ALLOCATION_OPTIONS, serviceCidr: options.serviceCidr } }),
      onError: (error) => log(`reconcile failed: ${String(error)}`),
      ...(options.onPass === undefined ? {} : { onPass: options.onPass }),
    });

    let agent: LocalAgent | undefined;
    if (options.localAgent !== false) {
      const local = await (options.createAgent ?? createDockerAgent)({
        node: nodeName,
        dataDir: path.join(dataDir, 'nodes', nodeName),
        ...(options.serviceCidr === undefined ? {} : { serviceCidr: options.serviceCidr }),
        log,
      });
      agent = local;
      await local.start();
      cleanups.push(() => local.stop());
      const attachment: Attachment = attachToOperator({
        agent: local,
        client: createLocalNodeClient(
          { server: server.url, token, name: nodeName },
          createNodeClient({ server: server.url, token, name: nodeName }),
        ),
        labels: {},
        log,
        // The local agent's routine events are not news to the operator's user.
        info: () => {},
      });
      cleanups.push(() => attachment.stop());
      attachment.done.catch((error: unknown) => log(`agent detached: ${String(error)}`));
    }

    // Every input that matters wakes a pass (status reports, syncs, a node's readiness turning
    // at its timed moment); the resync is a backstop, every 2 s only while a rollout runs.
    const stopEngine = engine.start(2000, ENGINE_SETTLED_RESYNC_MS);
    cleanups.push(async () => stopEngine());

    const ready = (): boolean =>
      agent !== undefined
        ? endpoint.isReady(nodeName)
        : endpoint.nodes().some((record) => endpoint.isReady(record.name));

    const operator: EmbeddedOperator = {
      engine,
      endpoint,
      agent,
      store,
      nodeName,
      dataDir,
      url: server.url,
      token,
      nodeGraceMs,
      nodeReady: (timeoutMs) =>
        new Promise<boolean>((resolve) => {
          if (ready()) {
            resolve(true);
            return;
          }
          const cancelTimer = clock.setTimer(() => {
            unsubscribe();
            resolve(false);
          }, timeoutMs);
          const unsubscribe = endpoint.onChange(() => {
            if (!ready()) return;
            cancelTimer();
            unsubscribe();
            resolve(true);
          });
        }),
      close: runCleanups,
    };
    api = options.handler?.(operator);
    return operator;
  } catch (error) {
    await runCleanups();
    throw error;
  }
}

export { defaultOperatorDataDir };
