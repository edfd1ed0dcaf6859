/**
 * `berth get` output, pure: kubectl's columns, its left-aligned table (three spaces between
 * columns), its STATUS and AGE wording, and a v1 List for -o json/yaml. Objects come in as
 * plain JSON (as the store keeps them), so every field is read defensively; `now` is passed in.
 */
import type { ContainerStatusReport, PodStatusReport } from '../agent/lifecycle/status-types.js';
import { endpointsColumn, type ServiceView } from '../services/index.js';
import { formatAge } from './age.js';

/** A node is NotReady when its last heartbeat is older than this. */
export const NODE_HEARTBEAT_GRACE_MS = 40_000;

const COLUMN_GAP = '   ';

/** Columns padded to their widest cell, as kubectl's tabwriter; no trailing spaces. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    headers
      .map((_, column) => {
        const cell = cells[column] ?? '';
        return column === headers.length - 1 ? cell : cell.padEnd(widths[column] ?? 0);
      })
      .join(COLUMN_GAP)
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** The v1 List kubectl prints for -o json / -o yaml. */
export function toV1List(items: readonly unknown[]): {
  apiVersion: 'v1';
  kind: 'List';
  metadata: { resourceVersion: string };
  items: unknown[];
} {
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: [...items] };
}

// --- defensive readers over plain JSON -------------------------------------------------------

type Json = Record<string, unknown>;

function record(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function metadataOf(object: unknown): Json {
  return record(record(object)?.metadata) ?? {};
}

export function nameOf(object: unknown): string {
  return text(metadataOf(object).name) ?? '<unnamed>';
}

export function namespaceOf(object: unknown): string {
  return text(metadataOf(object).namespace) ?? 'default';
}

export function labelsOf(object: unknown): Record<string, string> {
  const labels = record(metadataOf(object).labels) ?? {};
  return Object.fromEntries(
    Object.entries(labels).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  );
}

function creationOf(object: unknown): string | undefined {
  return text(metadataOf(object).creationTimestamp);
}

/**
 * The pod's status as the agent reported it, or undefined when the object carries none. The
 * agent writes the PodStatusReport shape; a stored object without a phase has no usable status.
 */
export function podStatusOf(pod: unknown): PodStatusReport | undefined {
  const status = record(record(pod)?.status);
  if (status === undefined || text(status.phase) === undefined) return undefined;
  // The store keeps what the agent reported, which is this shape; only phase is checked here.
  return status as unknown as PodStatusReport;
}

function containerStatuses(value: unknown): ContainerStatusReport[] {
  return list(value).filter((entry): entry is ContainerStatusReport => record(entry) !== undefined);
}

// --- pods --------------------------------------------------------------------------------------

/**
 * kubectl's STATUS of a pod: the first failing init container (`Init:ErrImagePull`,
 * `Init:1/2`), else the last container's waiting or terminated reason (ContainerCreating,
 * CrashLoopBackOff, Completed, Error...), else the pod's reason or phase. `Unknown` when no
 * status was reported.
 */
export function podStatusText(pod: unknown): string {
  const status = podStatusOf(pod);
  if (status === undefined) return 'Unknown';
  let reason = status.reason ?? status.phase;

  const inits = containerStatuses(status.initContainerStatuses);
  const initTotal = Math.max(inits.length, list(record(record(pod)?.spec)?.initContainers).length);
  let initializing = false;
  for (const [index, init] of inits.entries()) {
    const { terminated, waiting } = init.state ?? {};
    if (terminated !== undefined && terminated.exitCode === 0) continue;
    initializing = true;
    if (terminated !== undefined) {
      reason =
        terminated.reason !== undefined && terminated.reason !== ''
          ? `Init:${terminated.reason}`
          : `Init:ExitCode:${terminated.exitCode}`;
    } else if (waiting !== undefined && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${index}/${initTotal}`;
    }
    break;
  }
  if (initializing) return reason;

  let hasRunning = false;
  const containers = containerStatuses(status.containerStatuses);
  for (const container of [...containers].reverse()) {
    const { terminated, waiting, running } = container.state ?? {};
    if (waiting !== undefined && waiting.reason !== undefined) {
      reason = waiting.reason;
    } else if (terminated !== undefined) {
      reason =
        terminated.reason !== undefined && terminated.reason !== ''
          ? terminated.reason
          : `ExitCode:${terminated.exitCode}`;
    } else if (running !== undefined && container.ready) {
      hasRunning = true;
    }
  }
  // One container done, others still serving: the pod as a whole still runs.
  if (reason === 'Completed' && hasRunning) {
    const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    reason = ready === true ? 'Running' : 'NotReady';
  }
  return reason;
}

/** `ready/total` containers; total from the spec, so a pod not started yet shows 0/N. */
export function podReadyText(pod: unknown): string {
  const specCount = list(record(record(pod)?.spec)?.containers).length;
  const statuses = containerStatuses(podStatusOf(pod)?.containerStatuses);
  const ready = statuses.filter((s) => s.ready === true).length;
  return `${ready}/${Math.max(specCount, statuses.length)}`;
}

export function podRestarts(pod: unknown): number {
  return containerStatuses(podStatusOf(pod)?.containerStatuses).reduce(
    (sum, s) => sum + (typeof s.restartCount === 'number' ? s.restartCount : 0),
    0,
  );
}

/** True when the pod's Ready condition is True. */
export function isPodReady(pod: unknown): boolean {
  return (
    podStatusOf(pod)?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
  );
}

export interface PodRow {
  readonly pod: unknown;
  /** The node the pod is assigned to, if any. */
  readonly node?: string;
}

export function podsTable(rows: readonly PodRow[], now: Date, wide = false): string {
  const headers = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'];
  if (wide) headers.push('IP', 'NODE');
  return renderTable(
    headers,
    rows.map(({ pod, node }) => {
      const status = podStatusOf(pod);
      const cells = [
        nameOf(pod),
        podReadyText(pod),
        podStatusText(pod),
        String(podRestarts(pod)),
        formatAge(creationOf(pod) ?? status?.startTime, now),
      ];
      if (wide) cells.push(status?.podIP ?? '<none>', node ?? '<none>');
      return cells;
    }),
  );
}

// --- replication controllers -------------------------------------------------------------------

export interface ReplicationControllerRow {
  readonly rc: unknown;
  /** The pods this RC owns (as assigned), for CURRENT and READY. */
  readonly pods: readonly unknown[];
  /** When berth applied it, if the object has no creationTimestamp. */
  readonly appliedAt?: string;
}

/** spec.replicas, defaulting to 1 as the API server does. */
export function desiredReplicas(rc: unknown): number {
  const replicas = record(record(rc)?.spec)?.replicas;
  return typeof replicas === 'number' ? replicas : 1;
}

export function replicationControllersTable(
  rows: readonly ReplicationControllerRow[],
  now: Date,
  wide = false,
): string {
  const headers = ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'];
  if (wide) headers.push('CONTAINERS', 'IMAGES', 'SELECTOR');
  return renderTable(
    headers,
    rows.map(({ rc, pods, appliedAt }) => {
      const cells = [
        nameOf(rc),
        String(desiredReplicas(rc)),
        String(pods.length),
        String(pods.filter(isPodReady).length),
        formatAge(creationOf(rc) ?? appliedAt, now),
      ];
      if (wide) {
        const spec = record(record(rc)?.spec);
        const containers = list(record(record(spec?.template)?.spec)?.containers).map(record);
        const selector = Object.entries(record(spec?.selector) ?? {})
          .map(([key, value]) => `${key}=${String(value)}`)
          .join(',');
        cells.push(
          containers.map((c) => text(c?.name) ?? '').join(','),
          containers.map((c) => text(c?.image) ?? '').join(','),
          selector === '' ? '<none>' : selector,
        );
      }
      return cells;
    }),
  );
}

// --- services ------------------------------------------------------------------------------------

export interface ServiceRow {
  readonly service: unknown;
  /** The allocated cluster IP; `<none>` shows without one. */
  readonly clusterIP?: string;
  readonly appliedAt?: string;
}

/** kubectl's PORT(S): `80/TCP`, `80:30080/TCP` with a node port, comma separated. */
export function servicePortsText(service: unknown): string {
  const ports = list(record(record(service)?.spec)?.ports)
    .map(record)
    .filter((port): port is Json => port !== undefined)
    .map((port) => {
      const protocol = text(port.protocol) ?? 'TCP';
      const nodePort = typeof port.nodePort === 'number' ? `:${port.nodePort}` : '';
      return `${String(port.port)}${nodePort}/${protocol}`;
    });
  return ports.length === 0 ? '<none>' : ports.join(',');
}

export function servicesTable(rows: readonly ServiceRow[], now: Date, wide = false): string {
  const headers = ['NAME', 'TYPE', 'CLUSTER-IP', 'PORT(S)', 'AGE'];
  if (wide) headers.push('SELECTOR');
  return renderTable(
    headers,
    rows.map(({ service, clusterIP, appliedAt }) => {
      const spec = record(record(service)?.spec);
      const fixedIP = text(spec?.clusterIP);
      const cells = [
        nameOf(service),
        text(spec?.type) ?? 'ClusterIP',
        clusterIP ?? (fixedIP === undefined || fixedIP === '' ? '<none>' : fixedIP),
        servicePortsText(service),
        formatAge(creationOf(service) ?? appliedAt, now),
      ];
      if (wide) {
        const selector = Object.entries(record(spec?.selector) ?? {})
          .map(([key, value]) => `${key}=${String(value)}`)
          .join(',');
        cells.push(selector === '' ? '<none>' : selector);
      }
      return cells;
    }),
  );
}

// --- endpoints ------------------------------------------------------------------------------------

export function endpointsTable(
  rows: readonly { readonly view: ServiceView; readonly appliedAt?: string }[],
  now: Date,
): string {
  return renderTable(
    ['NAME', 'ENDPOINTS', 'AGE'],
    rows.map(({ view, appliedAt }) => [
      view.name,
      endpointsColumn(view),
      formatAge(appliedAt, now),
    ]),
  );
}

// --- nodes -----------------------------------------------------------------------------------------

export interface NodeRow {
  readonly name: string;
  readonly capacity: { readonly cpu: number; readonly memoryBytes: number };
  readonly registeredAt: string;
  readonly lastHeartbeat?: string;
  readonly address?: string;
  /** Readiness as the operator judged it; without it, from the last heartbeat's age. */
  readonly ready?: boolean;
}

/** As the operator says, else Ready while the last heartbeat is at most 40 s old. */
export function nodeStatusText(node: NodeRow, now: Date): 'Ready' | 'NotReady' {
  if (node.ready !== undefined) return node.ready ? 'Ready' : 'NotReady';
  if (node.lastHeartbeat === undefined) return 'NotReady';
  const beat = Date.parse(node.lastHeartbeat);
  if (Number.isNaN(beat)) return 'NotReady';
  return now.getTime() - beat <= NODE_HEARTBEAT_GRACE_MS ? 'Ready' : 'NotReady';
}

const BINARY_UNITS: readonly [string, number][] = [
  ['Ti', 2 ** 40],
  ['Gi', 2 ** 30],
  ['Mi', 2 ** 20],
  ['Ki', 2 ** 10],
];

/** Bytes in the largest binary unit that divides them exactly (`4Gi`, `1536Mi`), as quantities are. */
export function formatMemory(bytes: number): string {
  for (const [unit, size] of BINARY_UNITS) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** Cores as a quantity: whole cores plain, fractions in millicores (`2`, `1500m`). */
export function formatCpu(cores: number): string {
  const millis = Math.round(cores * 1000);
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

export function nodesTable(rows: readonly NodeRow[], now: Date, wide = false): string {
  const headers = ['NAME', 'STATUS', 'AGE', 'CAPACITY'];
  if (wide) headers.push('ADDRESS');
  return renderTable(
    headers,
    rows.map((node) => {
      const cells = [
        node.name,
        nodeStatusText(node, now),
        formatAge(node.registeredAt, now),
        `cpu=${formatCpu(node.capacity.cpu)},memory=${formatMemory(node.capacity.memoryBytes)}`,
      ];
      if (wide) cells.push(node.address ?? '<none>');
      return cells;
    }),
  );
}

/** A v1 Node object for -o json/yaml, from the registry's record. */
export function nodeObject(
  node: NodeRow & { readonly labels?: Readonly<Record<string, string>> },
  now: Date,
): unknown {
  const ready = nodeStatusText(node, now) === 'Ready';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      creationTimestamp: node.registeredAt,
      labels: { ...(node.labels ?? {}) },
    },
    status: {
      capacity: {
        cpu: formatCpu(node.capacity.cpu),
        memory: formatMemory(node.capacity.memoryBytes),
      },
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'Unknown',
          ...(node.lastHeartbeat === undefined ? {} : { lastHeartbeatTime: node.lastHeartbeat }),
        },
      ],
      ...(node.address === undefined
        ? {}
        : { addresses: [{ type: 'InternalIP', address: node.address }] }),
    },
  };
}
