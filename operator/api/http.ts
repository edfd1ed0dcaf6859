/**
 * Small HTTP helpers shared by berth's servers (node:http, no framework): bearer-token checks,
 * bounded JSON bodies, JSON and error answers in the protocol's shape.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApiErrorBody, type ApiErrorCode, PROTOCOL_VERSION } from './protocol.js';

/** Bodies are small (a node's pod set); anything larger is refused, not buffered. @default 16 MiB */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

const STATUS_OF: Record<ApiErrorCode, number> = {
  unauthorized: 401,
  'not-found': 404,
  'bad-request': 400,
  'protocol-version': 400,
  'method-not-allowed': 405,
  'too-large': 413,
  internal: 500,
};

/** An answer the handler decided on; thrown from deep inside a route, sent by the dispatcher. */
export class ApiFailure extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiFailure';
    this.code = code;
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

export function sendError(response: ServerResponse, code: ApiErrorCode, message: string): void {
  const body: ApiErrorBody = { protocolVersion: PROTOCOL_VERSION, error: { code, message } };
  if (code === 'unauthorized') response.setHeader('www-authenticate', 'Bearer realm="berth"');
  sendJson(response, STATUS_OF[code], body);
}

/** Compares digests so neither the token's length nor its content leaks through timing. */
export function bearerMatches(request: IncomingMessage, token: string): boolean {
  const header = request.headers.authorization;
  if (header === undefined) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) return false;
  const given = createHash('sha256').update(match[1]!).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

export async function readJsonBody(
  request: IncomingMessage,
  limit = MAX_BODY_BYTES,
): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new ApiFailure('too-large', `body is over ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiFailure('bad-request', `body is not JSON: ${(error as Error).message}`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Refuses a body of another protocol version before any field is read. */
export function checkProtocolVersion(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new ApiFailure('bad-request', 'body must be a JSON object');
  if (body.protocolVersion !== PROTOCOL_VERSION) {
    throw new ApiFailure(
      'protocol-version',
      `protocolVersion ${JSON.stringify(body.protocolVersion)} is not supported; this side speaks ${PROTOCOL_VERSION}`,
    );
  }
  return body;
}

/** Splits `/v1/pods/a/b` into decoded segments; undefined on a malformed escape. */
export function pathSegments(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
}

/** Sends what a route threw: its own failure as is, anything else as `internal`. */
export function sendFailure(response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof ApiFailure) {
    sendError(response, error.code, error.message);
    return;
  }
  sendError(response, 'internal', error instanceof Error ? error.message : String(error));
}
