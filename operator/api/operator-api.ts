/**
 * The operator API, server side: what `berth serve` answers under `/api/v1/` for client
 * commands (`apply`, `diff`, `get`), beside the node protocol on the same HTTP server.
 *
 *   POST /api/v1/sync     SyncRequest -> SyncResponse        (bearer token)
 *   GET  /api/v1/readout  OperatorReadout                    (bearer token)
 *   GET  /api/v1/health   {ok, pid, dataDir}                 (open: discovery asks it)
 *
 * With the daemon's parts (`berth serve`), also (bearer token):
 *   GET    /api/v1/apps                 AppStatus[]
 *   POST   /api/v1/apps                 AppAddRequest -> 201 AppStatus
 *   GET    /api/v1/apps/:app            AppStatus
 *   DELETE /api/v1/apps/:app            ?prune=true -> AppRemoveResponse
 *   POST   /api/v1/apps/:app/pin        {commit} -> AppStatus
 *   POST   /api/v1/apps/:app/unpin      AppStatus
 *   POST   /api/v1/apps/:app/sync       202 {triggered: true}
 *   GET    /api/v1/apps/:app/history    ?limit=N -> SyncRecord[] (newest first)
 *   GET    /api/v1/events               ?app=&limit=N -> EventRecord[] (newest first)
 * and outside /api/: GET /healthz (alive), GET /readyz (200, or 503 with the reason) and
 * GET /metrics (Prometheus text; open on loopback, the bearer token from elsewhere).
 * An unknown app is APP_NOT_FOUND (404).
 *
 * Failures are JSON `{code, message, hint?, retry?}` with a 4xx/5xx status; `code` is a
 * BerthErrorCode, so the client turns the body back into the same BerthError. No stack traces.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { AppRemoval, AppSettings, AppsController } from '../daemon/controller.js';
import type { AppStatus } from '../daemon/status.js';
import { type ManifestObject, SUPPORTED_KINDS } from '../manifests/types.js';
import { BerthError, type BerthErrorCode, isBerthError } from '../model/errors.js';
import type { Origin } from '../model/problem.js';
import { METRICS_CONTENT_TYPE } from '../operator/metrics.js';
import type { OperatorReadout, SyncRequest, SyncResponse } from '../operator/session.js';
import { hasUrlScheme } from '../source/url.js';
import type { Store } from '../store/store.js';
import { ApiFailure, bearerMatches, isRecord, pathSegments, readJsonBody } from './http.js';

/** A sync carries a whole app's objects; larger bodies are refused, not buffered. */
export const MAX_API_BODY_BYTES = 64 * 1024 * 1024;

/** What the API serves from: the operator's sync and readout (embedded operator parts). */
export interface OperatorApiParts {
  readonly token: string;
  readonly dataDir: string;
  sync(request: SyncRequest): SyncResponse | Promise<SyncResponse>;
  read(): Promise<OperatorReadout>;
  /** Unexpected failures (a bug, the store), logged on the server; clients get a short message. */
  readonly log?: (line: string) => void;
  /** The daemon's apps, history, events, readiness and metrics; without it those routes 404. */
  readonly daemon?: DaemonApiParts;
}

/** What `berth serve` adds to the API. */
export interface DaemonApiParts {
  readonly apps: Pick<
    AppsController,
    'statuses' | 'status' | 'app' | 'add' | 'remove' | 'pin' | 'unpin' | 'trigger'
  >;
  readonly store: Pick<Store, 'syncHistory' | 'events' | 'app'>;
  /** `/readyz`: ready, or the reason it is not. */
  ready(): { readonly ready: boolean; readonly reason: string };
  /** `/metrics` in Prometheus' text format; absent: 404. */
  metrics?(): string;
}

/** The body of `POST /api/v1/apps`. */
export interface AppAddRequest {
  readonly name: string;
  /** An absolute path, an https URL or `berth://<app>`. */
  readonly source: string;
  readonly ref?: string;
  readonly path?: string;
  /** Fetch interval of an https source, in ms. */
  readonly interval?: number;
  readonly prune?: boolean;
  readonly selfHeal?: boolean;
}

/**
 * The answer to `DELETE /api/v1/apps/:app`. With `?prune=true`, `deleted` lists what the pass
 * deleted (the app's objects, then its RCs' pods) and `kept` what `berth.io/prune: disabled`
 * kept; the pods' containers are still being removed by their nodes when it comes back.
 */
export interface AppRemoveResponse extends AppRemoval {
  readonly removed: true;
}

/** `?limit=` of history and events. */
export const MAX_LIST_LIMIT = 1000;

/** The JSON body of every failed API call. */
export interface OperatorApiErrorBody {
  readonly code: BerthErrorCode;
  readonly message: string;
  readonly hint?: string;
  readonly retry?: boolean;
}

const STATUS_OF_CODE: Partial<Record<BerthErrorCode, number>> = {
  API_UNAUTHORIZED: 401,
  APP_NAME_INVALID: 400,
  CLI_USAGE: 400,
  SERVER_BAD_REQUEST: 400,
  APP_SOURCE_CONFLICT: 409,
  STORE_ALLOCATION_TAKEN: 409,
  STORE_ALLOCATION_EXHAUSTED: 409,
  APP_REMOVE_REFUSED: 409,
  STORE_LOCKED: 503,
  APP_NOT_FOUND: 404,
  APP_SOURCE_UNSUPPORTED: 400,
  SOURCE_UNSUPPORTED_URL: 400,
};

const ROUTE_STATUS: Record<string, number> = {
  'not-found': 404,
  'method-not-allowed': 405,
  'too-large': 413,
};

function sendBody(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

function sendText(
  response: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

function sendApiError(response: ServerResponse, status: number, body: OperatorApiErrorBody): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (status === 401) response.setHeader('www-authenticate', 'Bearer realm="berth"');
  sendBody(response, status, body);
}

function bodyOf(error: BerthError): OperatorApiErrorBody {
  return {
    code: error.code,
    message: error.message,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    ...(error.retry ? { retry: true } : {}),
  };
}

function badRequest(message: string): BerthError {
  return new BerthError('SERVER_BAD_REQUEST', message, {
    hint: 'run the same berth version on the client and the server',
  });
}

function originOf(value: unknown, at: string): Origin {
  if (
    !isRecord(value) ||
    typeof value.file !== 'string' ||
    typeof value.line !== 'number' ||
    typeof value.column !== 'number'
  ) {
    throw badRequest(`${at}.origin needs file (string), line and column (numbers)`);
  }
  return { file: value.file, line: value.line, column: value.column };
}

/**
 * The objects of a sync as they came over the wire: shape checked (kind, object, origin),
 * `locate` answering the object's origin. The client validated them with the same schema.
 */
function manifestObjectsOf(value: unknown): ManifestObject[] {
  if (!Array.isArray(value)) throw badRequest('objects must be an array');
  const kinds: readonly string[] = SUPPORTED_KINDS;
  return (value as unknown[]).map((entry, index) => {
    const at = `objects[${index}]`;
    if (!isRecord(entry) || typeof entry.kind !== 'string' || !kinds.includes(entry.kind)) {
      throw badRequest(`${at}.kind must be one of ${SUPPORTED_KINDS.join(', ')}`);
    }
    if (!isRecord(entry.object) || entry.object.kind !== entry.kind) {
      throw badRequest(`${at}.object must be an object of kind ${entry.kind}`);
    }
    const origin = originOf(entry.origin, at);
    // The kind was checked against SUPPORTED_KINDS and the object's own kind above.
    return { ...entry, origin, locate: () => origin } as unknown as ManifestObject;
  });
}

export function syncRequestOf(body: unknown): SyncRequest {
  if (!isRecord(body)) throw badRequest('the body must be a JSON object');
  const { app, source, commit, prune, allowEmpty } = body;
  if (typeof app !== 'string') throw badRequest('app must be a string');
  if (typeof source !== 'string') throw badRequest('source must be a string');
  if (commit !== undefined && typeof commit !== 'string') {
    throw badRequest('commit must be a string');
  }
  if (prune !== undefined && typeof prune !== 'boolean') {
    throw badRequest('prune must be a boolean');
  }
  if (allowEmpty !== undefined && typeof allowEmpty !== 'boolean') {
    throw badRequest('allowEmpty must be a boolean');
  }
  return {
    app,
    source,
    objects: manifestObjectsOf(body.objects),
    ...(commit === undefined ? {} : { commit }),
    ...(prune === undefined ? {} : { prune }),
    ...(allowEmpty === undefined ? {} : { allowEmpty }),
  };
}

function usage(message: string): BerthError {
  return new BerthError('CLI_USAGE', message);
}

/** A `POST /api/v1/apps` body, checked field by field. */
export function appAddRequestOf(body: unknown): AppAddRequest {
  if (!isRecord(body)) throw badRequest('the body must be a JSON object');
  const { name, source, ref, path: subPath, interval, prune, selfHeal } = body;
  if (typeof name !== 'string') throw badRequest('name must be a string');
  if (typeof source !== 'string' || source === '') throw badRequest('source must be a string');
  if (!hasUrlScheme(source) && !path.isAbsolute(source)) {
    throw usage(`source "${source}" must be an absolute path, an https URL or berth://<app>`);
  }
  for (const [field, value] of [
    ['ref', ref],
    ['path', subPath],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw badRequest(`${field} must be a non-empty string`);
    }
  }
  if (
    interval !== undefined &&
    (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 1000)
  ) {
    throw usage('interval must be a number of milliseconds, at least 1000');
  }
  for (const [field, value] of [
    ['prune', prune],
    ['selfHeal', selfHeal],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') {
      throw badRequest(`${field} must be a boolean`);
    }
  }
  return {
    name,
    source,
    ...(typeof ref === 'string' ? { ref } : {}),
    ...(typeof subPath === 'string' ? { path: subPath } : {}),
    ...(typeof interval === 'number' ? { interval } : {}),
    ...(typeof prune === 'boolean' ? { prune } : {}),
    ...(typeof selfHeal === 'boolean' ? { selfHeal } : {}),
  };
}

function limitOf(url: URL, fallback: number): number {
  const text = url.searchParams.get('limit');
  if (text === null || text === '') return fallback;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw usage(`limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, not "${text}"`);
  }
  return limit;
}

/** A `?name=true|false` query flag; absent is false. */
function flagOf(url: URL, name: string): boolean {
  const text = url.searchParams.get(name);
  if (text === null || text === '' || text === 'false') return false;
  if (text === 'true') return true;
  throw usage(`${name} must be true or false, not "${text}"`);
}

function appNotFound(name: string): BerthError {
  return new BerthError('APP_NOT_FOUND', `no app named ${name}`, {
    hint: 'berth app list shows the apps',
  });
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The apps routes (`segments` after `/api/v1/apps`). */
async function appsRoute(
  daemon: DaemonApiParts,
  method: string,
  segments: readonly string[],
  url: URL,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const expect = (allowed: string): void => {
    if (method !== allowed) {
      throw new ApiFailure('method-not-allowed', `${url.pathname} takes ${allowed}`);
    }
  };
  const statusOf = (name: string): AppStatus => {
    const status = daemon.apps.status(name);
    if (status === undefined) throw appNotFound(name);
    return status;
  };
  const [name, action, ...rest] = segments;
  if (rest.length > 0) throw new ApiFailure('not-found', `no route for ${url.pathname}`);
  if (name === undefined) {
    if (method === 'GET') {
      sendBody(response, 200, daemon.apps.statuses());
      return;
    }
    expect('POST');
    const add = appAddRequestOf(await readJsonBody(request));
    // No ref: the repository's HEAD, or the branch checked out in a working tree (read at its
    // commits, never from its files).
    const ref = add.ref;
    const settings: AppSettings = {
      ...(ref === undefined ? {} : { ref }),
      ...(add.path === undefined ? {} : { path: add.path }),
      ...(add.interval === undefined ? {} : { interval: add.interval }),
      prune: add.prune ?? true,
      selfHeal: add.selfHeal ?? true,
    };
    daemon.apps.add({ name: add.name, source: add.source, settings });
    sendBody(
      response,
      201,
      daemon.apps.status(add.name) ?? { name: add.name, source: add.source, ...settings },
    );
    return;
  }
  switch (action) {
    case undefined:
      if (method === 'DELETE') {
        const removal = await daemon.apps.remove(name, { prune: flagOf(url, 'prune') });
        if (removal === undefined) throw appNotFound(name);
        const body: AppRemoveResponse = { removed: true, ...removal };
        sendBody(response, 200, body);
        return;
      }
      expect('GET');
      sendBody(response, 200, statusOf(name));
      return;
    case 'pin': {
      expect('POST');
      const body = await readJsonBody(request);
      if (!isRecord(body) || typeof body.commit !== 'string' || body.commit.trim() === '') {
        throw usage('give the commit to pin: {"commit": "<sha>"}');
      }
      if (daemon.apps.app(name) === undefined) throw appNotFound(name);
      daemon.apps.pin(name, body.commit.trim());
      sendBody(response, 200, statusOf(name));
      return;
    }
    case 'unpin':
      expect('POST');
      if (daemon.apps.app(name) === undefined) throw appNotFound(name);
      daemon.apps.unpin(name);
      sendBody(response, 200, statusOf(name));
      return;
    case 'sync':
      expect('POST');
      if (!daemon.apps.trigger(name, { force: true })) throw appNotFound(name);
      sendBody(response, 202, { triggered: true });
      return;
    case 'history': {
      expect('GET');
      const history = daemon.store.syncHistory(name, limitOf(url, 20));
      if (
        history.length === 0 &&
        daemon.apps.app(name) === undefined &&
        daemon.store.app(name) === undefined
      ) {
        throw appNotFound(name);
      }
      sendBody(response, 200, history);
      return;
    }
    default:
      throw new ApiFailure('not-found', `no route for ${url.pathname}`);
  }
}

/** The request handler for `/api/...`; mount it beside the node endpoint. */
export function createOperatorApi(
  parts: OperatorApiParts,
): (request: IncomingMessage, response: ServerResponse) => void {
  const log = parts.log ?? (() => {});

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://operator');
    const method = request.method ?? 'GET';
    const expect = (allowed: string): void => {
      if (method !== allowed) {
        throw new ApiFailure('method-not-allowed', `${url.pathname} takes ${allowed}`);
      }
    };
    const authorize = (): void => {
      if (!bearerMatches(request, parts.token)) {
        throw new BerthError('API_UNAUTHORIZED', 'the operator refused the token', {
          hint: `give the token in ${parts.dataDir}/token on the server (--token or $BERTH_TOKEN)`,
        });
      }
    };
    const pathname = url.pathname.replace(/\/+$/, '');
    const daemon = parts.daemon;
    if (daemon !== undefined) {
      const segments = pathSegments(pathname);
      if (segments === undefined) throw new ApiFailure('bad-request', 'malformed path');
      if (segments[0] === 'api' && segments[1] === 'v1' && segments[2] === 'apps') {
        authorize();
        await appsRoute(daemon, method, segments.slice(3), url, request, response);
        return;
      }
      switch (pathname) {
        case '/api/v1/events': {
          authorize();
          expect('GET');
          const app = url.searchParams.get('app');
          const limit = limitOf(url, 50);
          sendBody(
            response,
            200,
            daemon.store.events({ limit, ...(app === null || app === '' ? {} : { app }) }),
          );
          return;
        }
        case '/healthz':
          expect('GET');
          sendText(response, 200, 'ok\n');
          return;
        case '/readyz': {
          expect('GET');
          const readiness = daemon.ready();
          sendText(response, readiness.ready ? 200 : 503, `${readiness.reason}\n`);
          return;
        }
        case '/metrics': {
          if (daemon.metrics === undefined) break;
          if (!LOOPBACK.has(request.socket.remoteAddress ?? '')) authorize();
          expect('GET');
          sendText(response, 200, daemon.metrics(), METRICS_CONTENT_TYPE);
          return;
        }
      }
    }
    switch (pathname) {
      case '/api/v1/health':
        expect('GET');
        sendBody(response, 200, { ok: true, pid: process.pid, dataDir: parts.dataDir });
        return;
      case '/api/v1/readout':
        authorize();
        expect('GET');
        sendBody(response, 200, await parts.read());
        return;
      case '/api/v1/sync': {
        authorize();
        expect('POST');
        const request_ = syncRequestOf(await readJsonBody(request, MAX_API_BODY_BYTES));
        sendBody(response, 200, await parts.sync(request_));
        return;
      }
      default:
        throw new ApiFailure('not-found', `no route for ${url.pathname}`);
    }
  }

  return (request, response) => {
    route(request, response).catch((error: unknown) => {
      if (isBerthError(error)) {
        sendApiError(response, STATUS_OF_CODE[error.code] ?? 500, bodyOf(error));
        return;
      }
      if (error instanceof ApiFailure) {
        const status = ROUTE_STATUS[error.code] ?? 400;
        sendApiError(response, status, { code: 'SERVER_BAD_REQUEST', message: error.message });
        return;
      }
      log(
        `${request.method ?? 'GET'} ${request.url ?? '/'} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      sendApiError(response, 500, {
        code: 'SERVER_FAILED',
        message: `the operator failed: ${error instanceof Error ? error.message : String(error)}`,
        hint: "see the server's log",
      });
    });
  };
}
