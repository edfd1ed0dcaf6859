/**
 * The client side of the operator API: an OperatorSession on a running `berth serve`, over
 * HTTP with node's fetch. Failures come back as BerthErrors: SERVER_UNREACHABLE when nothing
 * answers, API_UNAUTHORIZED for a wrong token, and the server's own errors with its code,
 * message and hint.
 */
import type { AppStatus } from '../daemon/status.js';
import { BerthError, type BerthErrorCode } from '../model/errors.js';
import type {
  OperatorReadout,
  OperatorSession,
  SyncRequest,
  SyncResponse,
} from '../operator/session.js';
import type { EventRecord, SyncRecord } from '../store/store.js';
import { isRecord } from './http.js';
import type { AppAddRequest, AppRemoveResponse } from './operator-api.js';

export interface OperatorServerAddress {
  /** The server's base URL, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  readonly token: string;
  /** Where the token was read from, for the message of a refused token (e.g. `--token`). */
  readonly tokenFrom?: string;
  /** Per call. @default 120 s */
  readonly timeoutMs?: number;
}

/** How a client that found no server can get one, for messages. */
export const START_SERVER_HINT =
  'start one with `berth serve` (or give the address of a running one with --server URL)';

function describe(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

/** GET `/api/v1/health` within `timeoutMs`: the server's pid and data dir, or undefined. */
export async function probeOperatorServer(
  url: string,
  timeoutMs = 2000,
): Promise<{ pid: number; dataDir: string } | undefined> {
  try {
    const response = await fetch(`${url.replace(/\/+$/, '')}/api/v1/health`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) return undefined;
    const body = (await response.json()) as unknown;
    if (!isRecord(body) || body.ok !== true || typeof body.pid !== 'number') return undefined;
    return { pid: body.pid, dataDir: typeof body.dataDir === 'string' ? body.dataDir : '' };
  } catch {
    return undefined;
  }
}

/** One API call: the parsed JSON answer, or the BerthError the server (or the network) gave. */
type ApiCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

function apiCaller(address: OperatorServerAddress): { base: string; call: ApiCall } {
  const base = address.url.replace(/\/+$/, '');
  const timeoutMs = address.timeoutMs ?? 120_000;

  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${address.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new BerthError(
        'SERVER_UNREACHABLE',
        `no operator answers at ${base}: ${describe(error)}`,
        { hint: START_SERVER_HINT, retry: true, cause: error },
      );
    }
    const text = await response.text().catch((error: unknown) => {
      throw new BerthError(
        'SERVER_UNREACHABLE',
        `the operator at ${base} hung up: ${describe(error)}`,
        {
          retry: true,
          cause: error,
        },
      );
    });
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      throw new BerthError(
        'API_BAD_RESPONSE',
        `${method} ${base}${path}: answer ${response.status} is not JSON; is ${base} a berth operator?`,
      );
    }
    if (response.ok) return parsed;
    if (response.status === 401) {
      throw new BerthError('API_UNAUTHORIZED', `the operator at ${base} refused the token`, {
        hint: `the token was read from ${address.tokenFrom ?? 'the caller'}; give the one in the server's <data-dir>/token (--token, $BERTH_TOKEN)`,
      });
    }
    if (isRecord(parsed) && typeof parsed.code === 'string' && typeof parsed.message === 'string') {
      // The server sends BerthErrorCodes; one this client does not know still reads as a code.
      throw new BerthError(parsed.code as BerthErrorCode, parsed.message, {
        ...(typeof parsed.hint === 'string' ? { hint: parsed.hint } : {}),
        retry: parsed.retry === true,
      });
    }
    throw new BerthError('API_BAD_RESPONSE', `${method} ${base}${path}: HTTP ${response.status}`, {
      retry: response.status >= 500,
    });
  }
  return { base, call };
}

export function connectOperatorServer(address: OperatorServerAddress): OperatorSession {
  const { base, call } = apiCaller(address);

  function expectRecord(value: unknown, what: string): Record<string, unknown> {
    if (!isRecord(value)) {
      throw new BerthError('API_BAD_RESPONSE', `the operator at ${base} sent no ${what}`);
    }
    return value;
  }

  return {
    where: base,
    async sync(request: SyncRequest): Promise<SyncResponse> {
      const answer = expectRecord(await call('POST', '/api/v1/sync', request), 'sync result');
      if (!Array.isArray(answer.reports)) {
        throw new BerthError('API_BAD_RESPONSE', `the operator at ${base} sent no reports`);
      }
      return answer as unknown as SyncResponse;
    },
    async read(): Promise<OperatorReadout> {
      const answer = expectRecord(await call('GET', '/api/v1/readout'), 'readout');
      for (const field of ['apps', 'assignments', 'nodes', 'allocations', 'podsOnNodes']) {
        if (!Array.isArray(answer[field])) {
          throw new BerthError('API_BAD_RESPONSE', `the operator's readout lacks ${field}`);
        }
      }
      return answer as unknown as OperatorReadout;
    },
    // Nothing is held between calls.
    async close(): Promise<void> {},
  };
}

/** The daemon's API (`berth serve`): apps, their status and history, and events. */
export interface DaemonClient {
  readonly where: string;
  apps(): Promise<AppStatus[]>;
  app(name: string): Promise<AppStatus>;
  addApp(request: AppAddRequest): Promise<AppStatus>;
  /**
   * Stops keeping the app in sync; with `prune`, deletes what it applied too (the answer says
   * what; the nodes then remove the pods' containers: `read` shows when they are gone).
   */
  removeApp(name: string, options?: { readonly prune?: boolean }): Promise<AppRemoveResponse>;
  /** The operator's readout (`GET /api/v1/readout`), as OperatorSession.read. */
  read(): Promise<OperatorReadout>;
  pin(name: string, commit: string): Promise<AppStatus>;
  unpin(name: string): Promise<AppStatus>;
  /** Runs the app's worker at once. */
  syncApp(name: string): Promise<void>;
  /** Newest first. */
  history(name: string, limit?: number): Promise<SyncRecord[]>;
  /** Newest first. */
  events(options?: { readonly app?: string; readonly limit?: number }): Promise<EventRecord[]>;
}

export function connectDaemon(address: OperatorServerAddress): DaemonClient {
  const { base, call } = apiCaller(address);
  const session = connectOperatorServer(address);
  const app = (name: string): string => `/api/v1/apps/${encodeURIComponent(name)}`;
  const list = <T>(value: unknown, what: string): T[] => {
    if (!Array.isArray(value)) {
      throw new BerthError('API_BAD_RESPONSE', `the operator at ${base} sent no ${what}`);
    }
    return value as T[];
  };
  const status = (value: unknown): AppStatus => {
    if (!isRecord(value) || typeof value.name !== 'string' || typeof value.sync !== 'string') {
      throw new BerthError('API_BAD_RESPONSE', `the operator at ${base} sent no app status`);
    }
    return value as unknown as AppStatus;
  };
  const query = (entries: Record<string, string | number | undefined>): string => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(entries)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const text = params.toString();
    return text === '' ? '' : `?${text}`;
  };
  return {
    where: base,
    async apps() {
      return list<unknown>(await call('GET', '/api/v1/apps'), 'apps').map(status);
    },
    async app(name) {
      return status(await call('GET', app(name)));
    },
    async addApp(request) {
      return status(await call('POST', '/api/v1/apps', request));
    },
    async removeApp(name, options = {}) {
      const answer = await call(
        'DELETE',
        `${app(name)}${query({ prune: options.prune === true ? 'true' : undefined })}`,
      );
      if (!isRecord(answer) || answer.removed !== true) {
        throw new BerthError('API_BAD_RESPONSE', `the operator at ${base} sent no removal`);
      }
      // An operator from before prune answers {removed: true} alone, having deleted nothing.
      if (options.prune === true && !Array.isArray(answer.deleted)) {
        throw new BerthError(
          'API_BAD_RESPONSE',
          `the operator at ${base} removed app ${name} but did not delete its objects`,
          { hint: 'run the same berth version on the client and the server' },
        );
      }
      return {
        removed: true,
        deleted: list<AppRemoveResponse['deleted'][number]>(
          answer.deleted ?? [],
          'deleted objects',
        ),
        kept: list<AppRemoveResponse['kept'][number]>(answer.kept ?? [], 'kept objects'),
      };
    },
    read: () => session.read(),
    async pin(name, commit) {
      return status(await call('POST', `${app(name)}/pin`, { commit }));
    },
    async unpin(name) {
      return status(await call('POST', `${app(name)}/unpin`));
    },
    async syncApp(name) {
      await call('POST', `${app(name)}/sync`);
    },
    async history(name, limit) {
      return list<SyncRecord>(
        await call('GET', `${app(name)}/history${query({ limit })}`),
        'history',
      );
    },
    async events(options = {}) {
      return list<EventRecord>(
        await call('GET', `/api/v1/events${query({ app: options.app, limit: options.limit })}`),
        'events',
      );
    },
  };
}
