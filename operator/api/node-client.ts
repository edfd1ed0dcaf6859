/**
 * The agent's side of the node protocol on the wire: one method per route, typed bodies in and
 * out, failures as BerthErrors with stable codes (retry set where trying again can help).
 * Uses Node's global fetch; no state beyond the server address and token.
 */
import { BerthError } from '../model/errors.js';
import { isRecord } from './http.js';
import {
  type AssignmentsResponse,
  type NodeCapacity,
  type NodeEvent,
  type PodReport,
  PROTOCOL_VERSION,
  type RegisterResponse,
} from './protocol.js';

export interface NodeClientOptions {
  /** The operator's base URL, e.g. `http://127.0.0.1:7070`. */
  readonly server: string;
  readonly token: string;
  /** Node name; every route but register is under /v1/nodes/<name>. */
  readonly name: string;
}

export interface Registration {
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: NodeCapacity;
  readonly address?: string;
}

export interface NodeClient {
  register(registration: Registration, signal?: AbortSignal): Promise<RegisterResponse>;
  heartbeat(signal?: AbortSignal): Promise<void>;
  /** Long-polls the assignment; answers at once when the set's version differs from `version`. */
  watchAssignments(
    version: string,
    timeoutSeconds: number,
    signal?: AbortSignal,
  ): Promise<AssignmentsResponse>;
  /** The whole pod set, and the events not yet accepted (left out when there are none). */
  reportStatus(
    pods: readonly PodReport[],
    signal?: AbortSignal,
    events?: readonly NodeEvent[],
  ): Promise<void>;
}

export function createNodeClient(options: NodeClientOptions): NodeClient {
  const base = options.server.replace(/\/+$/, '');
  const nodePath = `/v1/nodes/${encodeURIComponent(options.name)}`;

  async function call(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (signal?.aborted === true) throw error;
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new BerthError(
        'API_UNREACHABLE',
        `operator at ${base} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`,
        { retry: true, cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    if (text !== '') {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        throw new BerthError(
          'API_BAD_RESPONSE',
          `${method} ${path}: answer ${response.status} is not JSON`,
          { retry: true },
        );
      }
    }
    if (response.ok) {
      if (
        parsed !== undefined &&
        (!isRecord(parsed) || parsed.protocolVersion !== PROTOCOL_VERSION)
      ) {
        throw new BerthError(
          'API_PROTOCOL_VERSION',
          `operator answered protocolVersion ${JSON.stringify(isRecord(parsed) ? parsed.protocolVersion : undefined)}; this agent speaks ${PROTOCOL_VERSION}`,
          { hint: 'run the same berth version on the operator and its agents' },
        );
      }
      return parsed;
    }
    const detail =
      isRecord(parsed) && isRecord(parsed.error) && typeof parsed.error.message === 'string'
        ? parsed.error.message
        : `HTTP ${response.status}`;
    const code = isRecord(parsed) && isRecord(parsed.error) ? parsed.error.code : undefined;
    if (response.status === 401) {
      throw new BerthError('API_UNAUTHORIZED', `operator refused the token: ${detail}`, {
        hint: 'give the token the operator was started with (--token)',
      });
    }
    if (code === 'protocol-version') {
      throw new BerthError('API_PROTOCOL_VERSION', detail, {
        hint: 'run the same berth version on the operator and its agents',
      });
    }
    if (response.status === 404 && path.startsWith(nodePath)) {
      throw new BerthError('API_NODE_UNKNOWN', detail, { retry: true });
    }
    throw new BerthError('API_BAD_RESPONSE', `${method} ${path}: ${detail}`, {
      retry: response.status >= 500,
    });
  }

  function expectAssignments(value: unknown): AssignmentsResponse {
    if (!isRecord(value) || typeof value.version !== 'string' || !Array.isArray(value.pods)) {
      throw new BerthError('API_BAD_RESPONSE', 'assignment answer lacks version or pods', {
        retry: true,
      });
    }
    return value as unknown as AssignmentsResponse;
  }

  return {
    async register(registration, signal) {
      const answer = await call(
        'POST',
        '/v1/nodes',
        {
          protocolVersion: PROTOCOL_VERSION,
          name: options.name,
          labels: registration.labels,
          capacity: registration.capacity,
          ...(registration.address === undefined ? {} : { address: registration.address }),
        },
        signal,
      );
      if (!isRecord(answer) || typeof answer.heartbeatIntervalSeconds !== 'number') {
        throw new BerthError('API_BAD_RESPONSE', 'register answer lacks heartbeatIntervalSeconds', {
          retry: true,
        });
      }
      return answer as unknown as RegisterResponse;
    },
    async heartbeat(signal) {
      await call('POST', `${nodePath}/heartbeat`, { protocolVersion: PROTOCOL_VERSION }, signal);
    },
    async watchAssignments(version, timeoutSeconds, signal) {
      const query = new URLSearchParams({ version, timeoutSeconds: String(timeoutSeconds) });
      return expectAssignments(await call('GET', `${nodePath}/pods?${query}`, undefined, signal));
    },
    async reportStatus(pods, signal, events) {
      const body = {
        protocolVersion: PROTOCOL_VERSION,
        pods,
        ...(events === undefined || events.length === 0 ? {} : { events }),
      };
      await call('PUT', `${nodePath}/status`, body, signal);
    },
  };
}
