/**
 * The wire types of the operator ↔ agent protocol and of the agent's own status API. This is
 * the only place that defines what goes over HTTP between berth's parts, so both sides change
 * together. Every body carries `protocolVersion`; a side that receives another major version
 * refuses it with `protocol-version` rather than guessing.
 *
 * The agent pulls (DESIGN.md "Agents pull"): the operator never needs a route to an agent.
 *
 *   POST /v1/nodes                        register (idempotent; again after an operator restart)
 *   POST /v1/nodes/<name>/heartbeat       liveness; 404 means "register again"
 *   GET  /v1/nodes/<name>/pods?version=V  long-poll: the WHOLE assigned set, with its version,
 *        [&timeoutSeconds=T]              as soon as it differs from V, else V again after T s
 *   PUT  /v1/nodes/<name>/status          the status of every pod on the node (whole set),
 *                                         and the events since the last accepted report
 *
 * The agent's own port (status and logs, for people and the operator's `logs`):
 *
 *   GET /healthz                          open, `ok`
 *   GET /v1/pods                          every pod report of the node
 *   GET /v1/pods/<ns>/<name>              one report
 *   GET /v1/pods/<ns>/<name>/log          ?container=&follow=1&tail=N, text/plain stream
 *
 * Everything but /healthz needs `Authorization: Bearer <token>`; without it the answer is 401.
 */

import type { Pod, PodStatus } from '../model/generated/types.js';
import type { ServiceView } from '../services/types.js';

/** Bumped on any incompatible change of a body or route. */
export const PROTOCOL_VERSION = 1;

/** Stable codes in error bodies; clients switch on these. */
export type ApiErrorCode =
  | 'unauthorized'
  | 'not-found'
  | 'bad-request'
  | 'protocol-version'
  | 'method-not-allowed'
  | 'too-large'
  | 'internal';

export interface ApiErrorBody {
  readonly protocolVersion: number;
  readonly error: { readonly code: ApiErrorCode; readonly message: string };
}

export interface NodeCapacity {
  /** CPUs of the host (may be fractional when limited). */
  readonly cpu: number;
  readonly memoryBytes: number;
}

export interface RegisterRequest {
  readonly protocolVersion: number;
  /** The node's name (DNS-1123 subdomain). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: NodeCapacity;
  /** Where the agent's own API listens (`http://host:port`), when it serves one. */
  readonly address?: string;
}

export interface RegisterResponse {
  readonly protocolVersion: number;
  readonly name: string;
  /** How often the operator expects a heartbeat. */
  readonly heartbeatIntervalSeconds: number;
}

export interface HeartbeatRequest {
  readonly protocolVersion: number;
}

export interface HeartbeatResponse {
  readonly protocolVersion: number;
}

/** The answer to the assignment watch: always the whole set, never a delta. */
export interface AssignmentsResponse {
  readonly protocolVersion: number;
  /** Opaque; equal versions mean equal sets (of pods and of services). */
  readonly version: string;
  readonly pods: readonly Pod[];
  /**
   * Every service with its address, node ports and ready endpoints: each node carries the
   * traffic of every service (its proxy and DNS). Absent from operators that have none.
   */
  readonly services?: readonly ServiceView[];
}

/** One pod as the agent reports it: identity plus a Kubernetes-shaped status. */
export interface PodReport {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly status: PodStatus;
}

/** Something the agent found or did to a pod (e.g. DriftRepaired), as Kubernetes' events. */
export interface NodeEvent {
  /** Unique per agent; an event sent again (its report's answer was lost) is recorded once. */
  readonly id: string;
  /** ISO time. */
  readonly at: string;
  readonly type: 'Normal' | 'Warning';
  /** One CamelCase word. */
  readonly reason: string;
  readonly namespace: string;
  readonly pod: string;
  readonly message: string;
}

export interface StatusRequest {
  readonly protocolVersion: number;
  /** Every pod the agent knows of: the whole set, so a lost report loses nothing. */
  readonly pods: readonly PodReport[];
  /**
   * Events since the last report the operator accepted; optional, so operators that know
   * none ignore them. Sent again until a report is accepted.
   */
  readonly events?: readonly NodeEvent[];
}

/** `GET /v1/pods` on the agent's port. */
export interface PodListResponse {
  readonly protocolVersion: number;
  readonly node: string;
  readonly pods: readonly PodReport[];
}

/** Waiting on the assignment watch is capped so proxies and clients never time out first. */
export const MAX_WATCH_TIMEOUT_SECONDS = 300;
/** @default 30 s when the watch request names no timeoutSeconds */
export const DEFAULT_WATCH_TIMEOUT_SECONDS = 30;

/** The agent API's default port (the kubelet's 10250 plus one, so both may share a host). */
export const DEFAULT_AGENT_PORT = 10251;
