/**
 * The operator API, server side: what `berth serve` answers under `/api/v1/` for client
 * commands (`apply`, `diff`, `get`), beside the node protocol on the same HTTP server.
 *
 *   POST /api/v1/sync     SyncRequest -> SyncResponse        (bearer token)
 *   GET  /api/v1/readout  OperatorReadout                    (bearer token)
 *   GET  /api/v1/health   {ok, pid, dataDir}                 (open: discovery asks it)
 *
 * Failures are JSON `{code, message, hint?, retry?}` with a 4xx/5xx status; `code` is a
 * BerthErrorCode, so the client turns the body back into the same BerthError. No stack traces.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ManifestObject, SUPPORTED_KINDS } from '../manifests/types.js';
import { BerthError, type BerthErrorCode, isBerthError } from '../model/errors.js';
import type { Origin } from '../model/problem.js';
import type { OperatorReadout, SyncRequest, SyncResponse } from '../operator/session.js';
import { ApiFailure, bearerMatches, isRecord, readJsonBody } from './http.js';

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
}

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
  STORE_LOCKED: 503,
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
    switch (url.pathname.replace(/\/+$/, '')) {
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
