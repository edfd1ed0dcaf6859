/**
 * The operator's side of the node protocol, minimal and in memory: nodes register and
 * heartbeat, pods are assigned to a node programmatically, agents long-poll their assignment,
 * and their status reports are recorded. The next issue grows this (scheduler, store); the
 * wire stays as protocol.ts defines it.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pod } from '../model/generated/types.js';
import type { ServiceView } from '../services/types.js';
import {
  ApiFailure,
  bearerMatches,
  checkProtocolVersion,
  isRecord,
  pathSegments,
  readJsonBody,
  sendFailure,
  sendJson,
} from './http.js';
import {
  type AssignmentsResponse,
  DEFAULT_WATCH_TIMEOUT_SECONDS,
  MAX_WATCH_TIMEOUT_SECONDS,
  type NodeCapacity,
  type NodeEvent,
  type PodReport,
  PROTOCOL_VERSION,
  type RegisterResponse,
} from './protocol.js';

export interface NodeRecord {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: NodeCapacity;
  readonly address: string | undefined;
  /** ms since the epoch, from the endpoint's clock. */
  readonly registeredAt: number;
  readonly lastHeartbeatAt: number;
  /** Whole set from the latest status report; empty until the first. */
  readonly pods: readonly PodReport[];
  readonly statusReportedAt: number | undefined;
}

export interface NodeEndpointOptions {
  readonly token: string;
  /** Told to agents at registration. @default 5 */
  readonly heartbeatIntervalSeconds?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface NodeEndpoint {
  /** The request handler, to mount in a bigger server or to serve with `listen`. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** Serves the endpoint alone; port 0 picks a free port. */
  listen(host: string, port: number): Promise<{ readonly url: string; close(): Promise<void> }>;
  /** Sets the whole set of pods assigned to a node (registered or not yet). */
  assign(node: string, pods: readonly Pod[]): void;
  /** The version of a node's pod set (the watch's version also covers the services). */
  assignmentVersion(node: string): string;
  /** Sets the services every node carries; wakes every watch when they changed. */
  setServices(services: readonly ServiceView[]): void;
  nodes(): NodeRecord[];
  node(name: string): NodeRecord | undefined;
  /** True when the node heartbeat within `missed` intervals of now. */
  isReady(name: string, missed?: number): boolean;
  /** Called after every change of a node record (register, heartbeat, status). */
  onChange(listener: (node: string) => void): () => void;
  /** Called with the new events of each accepted status report (each event once). */
  onEvents(listener: (node: string, events: readonly NodeEvent[]) => void): () => void;
}

/** How many event ids per node the endpoint remembers to drop an event sent twice. */
const EVENT_IDS_KEPT = 1000;

function eventOf(value: unknown, index: number): NodeEvent {
  const fail = (): never => {
    throw new ApiFailure(
      'bad-request',
      `events[${index}] needs id, at, reason, namespace, pod, message (strings) and type (Normal or Warning)`,
    );
  };
  if (!isRecord(value)) return fail();
  const { id, at, type, reason, namespace, pod, message } = value;
  if (
    typeof id !== 'string' ||
    typeof at !== 'string' ||
    (type !== 'Normal' && type !== 'Warning') ||
    typeof reason !== 'string' ||
    typeof namespace !== 'string' ||
    typeof pod !== 'string' ||
    typeof message !== 'string'
  ) {
    return fail();
  }
  return { id, at, type, reason, namespace, pod, message };
}

interface Assignment {
  readonly version: string;
  readonly pods: readonly Pod[];
}

/** Order-independent: the same set assigned twice has the same version, so no agent wakes. */
export function assignmentVersionOf(pods: readonly Pod[]): string {
  const keyed = pods
    .map((pod) => ({
      key: `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`,
      pod,
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const hash = createHash('sha256');
  for (const { pod } of keyed) hash.update(JSON.stringify(pod)).update('\n');
  return hash.digest('hex').slice(0, 16);
}

function servicesVersionOf(list: readonly ServiceView[]): string {
  return createHash('sha256').update(JSON.stringify(list)).digest('hex').slice(0, 16);
}

const EMPTY: Assignment = { version: assignmentVersionOf([]), pods: [] };

function stringRecord(value: unknown, field: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw new ApiFailure('bad-request', `${field} must be an object`);
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw new ApiFailure('bad-request', `${field}.${key} must be a string`);
    }
    result[key] = entry;
  }
  return result;
}

function capacityOf(value: unknown): NodeCapacity {
  if (!isRecord(value)) throw new ApiFailure('bad-request', 'capacity must be an object');
  const { cpu, memoryBytes } = value;
  if (
    typeof cpu !== 'number' ||
    !(cpu >= 0) ||
    typeof memoryBytes !== 'number' ||
    !(memoryBytes >= 0)
  ) {
    throw new ApiFailure(
      'bad-request',
      'capacity needs cpu and memoryBytes as non-negative numbers',
    );
  }
  return { cpu, memoryBytes };
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function createNodeEndpoint(options: NodeEndpointOptions): NodeEndpoint {
  const now = options.now ?? Date.now;
  const heartbeatIntervalSeconds = options.heartbeatIntervalSeconds ?? 5;
  const records = new Map<string, NodeRecord>();
  const assignments = new Map<string, Assignment>();
  /** Parked watches per node, woken when that node's assignment changes. */
  const waiters = new Map<string, Set<() => void>>();
  const listeners = new Set<(node: string) => void>();
  const eventListeners = new Set<(node: string, events: readonly NodeEvent[]) => void>();
  /** Event ids seen per node, oldest first. */
  const eventIds = new Map<string, Set<string>>();
  let services: { readonly version: string; readonly list: readonly ServiceView[] } = {
    version: servicesVersionOf([]),
    list: [],
  };
  /** What a node's watch answers with: its pods and the services, under one version. */
  const watchVersion = (node: string): string => {
    const pods = (assignments.get(node) ?? EMPTY).version;
    // Without services the version is the pod set's alone, as before services existed.
    return services.list.length === 0 ? pods : `${pods}.${services.version}`;
  };

  function changed(node: string): void {
    for (const listener of listeners) listener(node);
  }

  function knownNode(name: string): NodeRecord {
    const record = records.get(name);
    if (record === undefined) {
      throw new ApiFailure('not-found', `node "${name}" is not registered; register again`);
    }
    return record;
  }

  async function register(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = checkProtocolVersion(await readJsonBody(request));
    const { name, address } = body;
    if (typeof name !== 'string' || name.length > 253 || !NODE_NAME.test(name)) {
      throw new ApiFailure('bad-request', 'name must be a DNS-1123 subdomain');
    }
    if (address !== undefined && typeof address !== 'string') {
      throw new ApiFailure('bad-request', 'address must be a string');
    }
    const at = now();
    const previous = records.get(name);
    records.set(name, {
      name,
      labels: stringRecord(body.labels, 'labels'),
      capacity: capacityOf(body.capacity),
      address,
      registeredAt: at,
      lastHeartbeatAt: at,
      pods: previous?.pods ?? [],
      statusReportedAt: previous?.statusReportedAt,
    });
    changed(name);
    const answer: RegisterResponse = {
      protocolVersion: PROTOCOL_VERSION,
      name,
      heartbeatIntervalSeconds,
    };
    sendJson(response, 200, answer);
  }

  async function heartbeat(
    name: string,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    checkProtocolVersion(await readJsonBody(request));
    const record = knownNode(name);
    records.set(name, { ...record, lastHeartbeatAt: now() });
    changed(name);
    sendJson(response, 200, { protocolVersion: PROTOCOL_VERSION });
  }

  async function status(
    name: string,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const body = checkProtocolVersion(await readJsonBody(request));
    const record = knownNode(name);
    if (!Array.isArray(body.pods)) throw new ApiFailure('bad-request', 'pods must be an array');
    const pods: PodReport[] = [];
    for (const [index, entry] of (body.pods as unknown[]).entries()) {
      if (
        !isRecord(entry) ||
        typeof entry.namespace !== 'string' ||
        typeof entry.name !== 'string' ||
        typeof entry.uid !== 'string' ||
        !isRecord(entry.status)
      ) {
        throw new ApiFailure(
          'bad-request',
          `pods[${index}] needs namespace, name, uid (strings) and status (object)`,
        );
      }
      pods.push(entry as unknown as PodReport);
    }
    if (body.events !== undefined && !Array.isArray(body.events)) {
      throw new ApiFailure('bad-request', 'events must be an array');
    }
    const events = ((body.events ?? []) as unknown[]).map(eventOf);
    const at = now();
    // A status report is as good as a heartbeat.
    records.set(name, { ...record, pods, statusReportedAt: at, lastHeartbeatAt: at });
    changed(name);
    let seen = eventIds.get(name);
    if (seen === undefined) {
      seen = new Set();
      eventIds.set(name, seen);
    }
    const fresh: NodeEvent[] = [];
    for (const event of events) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      fresh.push(event);
    }
    for (const id of seen) {
      if (seen.size <= EVENT_IDS_KEPT) break;
      seen.delete(id);
    }
    if (fresh.length > 0) for (const listener of eventListeners) listener(name, fresh);
    response.writeHead(204).end();
  }

  function watch(name: string, url: URL, request: IncomingMessage, response: ServerResponse): void {
    knownNode(name);
    const seen = url.searchParams.get('version') ?? '';
    const timeoutParam = url.searchParams.get('timeoutSeconds');
    let timeoutSeconds = DEFAULT_WATCH_TIMEOUT_SECONDS;
    if (timeoutParam !== null) {
      const parsed = Number(timeoutParam);
      if (!Number.isFinite(parsed) || parsed < 0) {
        throw new ApiFailure('bad-request', 'timeoutSeconds must be a non-negative number');
      }
      timeoutSeconds = Math.min(parsed, MAX_WATCH_TIMEOUT_SECONDS);
    }
    const answer = (): void => {
      const current = assignments.get(name) ?? EMPTY;
      const body: AssignmentsResponse = {
        protocolVersion: PROTOCOL_VERSION,
        version: watchVersion(name),
        pods: current.pods,
        services: services.list,
      };
      sendJson(response, 200, body);
    };
    if (watchVersion(name) !== seen || timeoutSeconds === 0) {
      answer();
      return;
    }
    let set = waiters.get(name);
    if (set === undefined) {
      set = new Set();
      waiters.set(name, set);
    }
    const parked = set;
    const finish = (): void => {
      clearTimeout(timer);
      parked.delete(wake);
      request.off('close', abandon);
    };
    const wake = (): void => {
      finish();
      answer();
    };
    const abandon = (): void => finish();
    const timer = setTimeout(wake, timeoutSeconds * 1000);
    parked.add(wake);
    // The agent hung up (stopped, or its own timeout): forget the watch.
    request.on('close', abandon);
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://endpoint');
    if (!bearerMatches(request, options.token)) {
      throw new ApiFailure('unauthorized', 'a valid bearer token is required');
    }
    const segments = pathSegments(url.pathname);
    if (segments === undefined) throw new ApiFailure('bad-request', 'malformed path');
    const method = request.method ?? 'GET';
    const [version, collection, name, sub, ...rest] = segments;
    if (version !== 'v1' || collection !== 'nodes' || rest.length > 0) {
      throw new ApiFailure('not-found', `no route for ${url.pathname}`);
    }
    const expect = (allowed: string): void => {
      if (method !== allowed) {
        throw new ApiFailure('method-not-allowed', `${url.pathname} takes ${allowed}`);
      }
    };
    if (name === undefined) {
      expect('POST');
      return register(request, response);
    }
    switch (sub) {
      case 'heartbeat':
        expect('POST');
        return heartbeat(name, request, response);
      case 'pods':
        expect('GET');
        return watch(name, url, request, response);
      case 'status':
        expect('PUT');
        return status(name, request, response);
      default:
        throw new ApiFailure('not-found', `no route for ${url.pathname}`);
    }
  }

  function handle(request: IncomingMessage, response: ServerResponse): void {
    route(request, response).catch((error: unknown) => sendFailure(response, error));
  }

  return {
    handle,
    async listen(host, port) {
      const server: Server = createServer(handle);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
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
    },
    assign(node, pods) {
      const next: Assignment = { version: assignmentVersionOf(pods), pods: [...pods] };
      if ((assignments.get(node) ?? EMPTY).version === next.version) return;
      assignments.set(node, next);
      const parked = waiters.get(node);
      if (parked !== undefined) for (const wake of [...parked]) wake();
    },
    assignmentVersion: (node) => (assignments.get(node) ?? EMPTY).version,
    setServices(list) {
      const version = servicesVersionOf(list);
      if (version === services.version) return;
      services = { version, list: [...list] };
      for (const parked of waiters.values()) for (const wake of [...parked]) wake();
    },
    nodes: () => [...records.values()],
    node: (name) => records.get(name),
    isReady(name, missed = 3) {
      const record = records.get(name);
      if (record === undefined) return false;
      return now() - record.lastHeartbeatAt <= missed * heartbeatIntervalSeconds * 1000;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onEvents(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
  };
}
