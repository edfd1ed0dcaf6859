/**
 * Runs `git http-backend` as a CGI program for one request: the request's body streams into its
 * stdin, its stdout's CGI header block becomes the HTTP status and headers, and the rest streams
 * back as the response body. Gzip request bodies (`Content-Encoding: gzip`, which git sends for
 * large fetch negotiations) are passed through for http-backend to inflate.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CgiRequest {
  /** GIT_PROJECT_ROOT: the folder holding the bare repositories. */
  readonly projectRoot: string;
  /** PATH_INFO below the project root, e.g. `/app.git/info/refs`. */
  readonly pathInfo: string;
  /** QUERY_STRING, without `?`. */
  readonly query: string;
  /** REMOTE_USER: http-backend enables receive-pack only for an authenticated user. */
  readonly remoteUser: string;
  /** Extra variables for http-backend and, through it, for git and its hooks. */
  readonly env: Readonly<Record<string, string>>;
  /** Called once with a line when http-backend fails or exits non-zero. */
  readonly log: (line: string) => void;
}

/** Serves `request` with `git http-backend`; answers 500 itself if the backend gives nothing. */
export function runHttpBackend(
  request: IncomingMessage,
  response: ServerResponse,
  cgi: CgiRequest,
): void {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const env: Record<string, string> = {
    ...cgi.env,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    GIT_PROJECT_ROOT: cgi.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: cgi.pathInfo,
    QUERY_STRING: cgi.query,
    REQUEST_METHOD: request.method ?? 'GET',
    REMOTE_USER: cgi.remoteUser,
    REMOTE_ADDR: request.socket.remoteAddress ?? '',
  };
  const optional: [string, string | undefined][] = [
    ['CONTENT_TYPE', header('content-type')],
    ['CONTENT_LENGTH', header('content-length')],
    ['HTTP_CONTENT_ENCODING', header('content-encoding')],
    ['HTTP_GIT_PROTOCOL', header('git-protocol')],
  ];
  for (const [name, value] of optional) if (value !== undefined) env[name] = value;

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let finished = false;
  const abandon = () => {
    // The client went away mid-request: stop the backend (a push not yet received is not applied).
    if (!finished && child.exitCode === null) child.kill('SIGTERM');
  };
  response.on('close', abandon);

  request.pipe(child.stdin);
  child.stdin.on('error', () => {
    // The backend may exit before reading a body it does not need.
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 64 * 1024) stderr += chunk;
  });

  let head = Buffer.alloc(0);
  let headersSent = false;
  const onHead = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = findHeaderEnd(head);
    if (end === undefined) {
      if (head.length > 64 * 1024) child.kill('SIGTERM');
      return;
    }
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString('latin1'));
    response.writeHead(status, headers);
    headersSent = true;
    const rest = head.subarray(end.at + end.length);
    if (rest.length > 0) response.write(rest);
    child.stdout.off('data', onHead);
    // From here on the body streams with backpressure; `close` below ends the response.
    child.stdout.pipe(response, { end: false });
  };
  child.stdout.on('data', onHead);

  child.on('close', (code, signal) => {
    finished = true;
    if (code !== 0) {
      const why = signal === null ? `exited with ${code}` : `was stopped by ${signal}`;
      cgi.log(`git http-backend ${why} for ${cgi.pathInfo}: ${stderr.trim()}`);
    }
    if (!headersSent) {
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      }
      response.end('git http-backend failed; the server log says more\n');
      return;
    }
    response.end();
  });
  child.on('error', (error) => {
    finished = true;
    cgi.log(`cannot run git http-backend: ${error.message}`);
    if (!response.headersSent) {
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    }
    response.end('cannot run git on the server\n');
  });
}

function findHeaderEnd(buffer: Buffer): { at: number; length: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, length: 4 };
  if (lf >= 0) return { at: lf, length: 2 };
  return undefined;
}

/** CGI response headers; `Status: 404 Not Found` sets the status (default 200). */
export function parseCgiHeaders(text: string): {
  status: number;
  headers: Record<string, string>;
} {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}
