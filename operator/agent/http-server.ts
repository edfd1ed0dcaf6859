/**
 * The agent's own HTTP port (node:http, no framework): pod status and logs, for people and for
 * the operator's `berth logs`. Everything but /healthz needs the bearer token. Routes and
 * bodies are defined in operator/api/protocol.ts.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApiFailure, bearerMatches, pathSegments, sendFailure, sendJson } from '../api/http.js';
import { type PodListResponse, PROTOCOL_VERSION } from '../api/protocol.js';
import { BerthError, isBerthError } from '../model/errors.js';
import type { AgentPodReport } from './attach.js';

/** What the HTTP port needs of the node agent (node-agent.ts's NodeAgent has this shape). */
export interface AgentStatusSource {
  pods(): readonly AgentPodReport[];
  logs(
    namespace: string,
    pod: string,
    container: string | undefined,
    options: { follow: boolean; tail?: number },
  ): Promise<NodeJS.ReadableStream>;
}

export interface AgentHttpServerOptions {
  readonly agent: AgentStatusSource;
  readonly node: string;
  readonly token: string;
}

export interface AgentHttpServer {
  /** `http://host:port` as bound (port 0 resolved). */
  readonly url: string;
  readonly address: AddressInfo;
  /** Stops listening and ends open log streams. */
  close(): Promise<void>;
}

function findPod(agent: AgentStatusSource, namespace: string, name: string): AgentPodReport {
  const report = agent.pods().find((p) => p.namespace === namespace && p.name === name);
  if (report === undefined) throw new ApiFailure('not-found', `pod ${namespace}/${name} not found`);
  return report;
}

function parseTail(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new ApiFailure('bad-request', 'tail must be a whole number');
  return Number(value);
}

/** The node agent's refusals as HTTP answers: a missing pod or container is 404, no choice made 400. */
function logFailure(error: unknown, container: string | undefined): ApiFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (isBerthError(error)) {
    if (error.code === 'AGENT_POD_NOT_FOUND') return new ApiFailure('not-found', message);
    if (error.code === 'AGENT_CONTAINER_NOT_FOUND') {
      return new ApiFailure(container === undefined ? 'bad-request' : 'not-found', message);
    }
  }
  return new ApiFailure('internal', message);
}

async function streamLogs(
  agent: AgentStatusSource,
  namespace: string,
  name: string,
  url: URL,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  findPod(agent, namespace, name);
  const container = url.searchParams.get('container') ?? undefined;
  const followParam = url.searchParams.get('follow');
  const follow = followParam === '1' || followParam === 'true';
  const tail = parseTail(url.searchParams.get('tail'));
  let stream: NodeJS.ReadableStream;
  try {
    stream = await agent.logs(namespace, name, container === '' ? undefined : container, {
      follow,
      ...(tail === undefined ? {} : { tail }),
    });
  } catch (error) {
    throw logFailure(error, container === '' ? undefined : container);
  }
  response.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  response.flushHeaders();
  const release = (): void => {
    const destroyable = stream as NodeJS.ReadableStream & { destroy?: () => void };
    destroyable.destroy?.();
  };
  // A follower that hangs up must not leave the engine's log stream open.
  request.on('close', release);
  response.on('close', release);
  stream.on('error', () => response.destroy());
  stream.pipe(response);
}

export async function startAgentHttpServer(
  options: AgentHttpServerOptions,
  host: string,
  port: number,
): Promise<AgentHttpServer> {
  const { agent, token, node } = options;

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://agent');
    const method = request.method ?? 'GET';
    if (url.pathname === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (!bearerMatches(request, token)) {
      throw new ApiFailure('unauthorized', 'a valid bearer token is required');
    }
    const segments = pathSegments(url.pathname);
    if (segments === undefined) throw new ApiFailure('bad-request', 'malformed path');
    const [version, collection, namespace, name, sub, ...rest] = segments;
    if (version !== 'v1' || collection !== 'pods' || rest.length > 0) {
      throw new ApiFailure('not-found', `no route for ${url.pathname}`);
    }
    if (method !== 'GET') throw new ApiFailure('method-not-allowed', `${url.pathname} takes GET`);
    if (namespace === undefined) {
      const body: PodListResponse = {
        protocolVersion: PROTOCOL_VERSION,
        node,
        pods: agent.pods() as PodListResponse['pods'],
      };
      sendJson(response, 200, body);
      return;
    }
    if (name === undefined) throw new ApiFailure('not-found', 'name the pod: /v1/pods/<ns>/<name>');
    if (sub === undefined) {
      sendJson(response, 200, {
        protocolVersion: PROTOCOL_VERSION,
        ...findPod(agent, namespace, name),
      });
      return;
    }
    if (sub !== 'log') throw new ApiFailure('not-found', `no route for ${url.pathname}`);
    await streamLogs(agent, namespace, name, url, request, response);
  }

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => sendFailure(response, error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new BerthError(
          'AGENT_LISTEN_FAILED',
          `cannot listen on ${host}:${port}: ${error.code ?? error.message}`,
          { hint: 'pick another address with --listen HOST:PORT', cause: error },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Followed log streams never end on their own.
        server.closeAllConnections();
      }),
  };
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (all interfaces is never implied: host defaults to 127.0.0.1). */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || port > 65_535) {
    throw new BerthError('CLI_USAGE', `--listen "${value}" is not HOST:PORT`, {
      hint: 'e.g. --listen 127.0.0.1:10251, or port 0 for any free port',
    });
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

/**
 * The agent's token: `<data-dir>/token`, created on first start (32 random bytes, hex, mode
 * 0600). A token file readable by others is refused: it guards pod logs.
 */
export async function loadOrCreateToken(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'token');
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    const handle = await fsp.open(file, 'wx', 0o600);
    const token = randomBytes(32).toString('hex');
    try {
      await handle.writeFile(`${token}\n`);
    } finally {
      await handle.close();
    }
    return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new BerthError('AGENT_TOKEN', `cannot create ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const stat = await fsp.stat(file);
  if ((stat.mode & 0o077) !== 0) {
    throw new BerthError(
      'AGENT_TOKEN',
      `${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)})`,
      { hint: `chmod 600 ${file}` },
    );
  }
  const token = (await fsp.readFile(file, 'utf8')).trim();
  if (token === '') {
    throw new BerthError('AGENT_TOKEN', `${file} is empty`, {
      hint: 'delete it to have a new token made, or write one into it',
    });
  }
  return token;
}
