/**
 * The client side of the operator API: an OperatorSession on a running `berth serve`, over
 * HTTP with node's fetch. Failures come back as BerthErrors: SERVER_UNREACHABLE when nothing
 * answers, API_UNAUTHORIZED for a wrong token, and the server's own errors with its code,
 * message and hint.
 */
import { BerthError, type BerthErrorCode } from '../model/errors.js';
import type {
  OperatorReadout,
  OperatorSession,
  SyncRequest,
  SyncResponse,
} from '../operator/session.js';
import { isRecord } from './http.js';

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

export function connectOperatorServer(address: OperatorServerAddress): OperatorSession {
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
