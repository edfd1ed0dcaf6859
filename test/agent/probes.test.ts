import { createServer as createHttpServer, type Server } from 'node:http';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../operator/agent/lifecycle/clock.js';
import { resolveProbePort, runProbe } from '../../operator/agent/probes.js';
import type { Container } from '../../operator/model/generated/types.js';
import { FakeRuntime } from './fake-runtime.js';

let http: Server;
let httpPort: number;
let silent: NetServer;
const silentSockets = new Set<Socket>();
let silentPort: number;
const headersSeen: string[] = [];

beforeAll(async () => {
  http = createHttpServer((request, response) => {
    headersSeen.push(String(request.headers['x-probe'] ?? ''));
    const status = request.url === '/ok' ? 200 : request.url === '/moved' ? 302 : 404;
    response.writeHead(status, status === 302 ? { Location: '/elsewhere' } : {});
    response.end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpPort = (http.address() as AddressInfo).port;
  // Accepts connections and never answers: an HTTP probe must time out.
  silent = createTcpServer((socket) => {
    silentSockets.add(socket);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as AddressInfo).port;
});

afterAll(async () => {
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

const container: Container = {
  name: 'app',
  image: 'busybox',
  ports: [{ name: 'web', containerPort: 8080 }],
};

function target(runtime = new FakeRuntime(systemClock)) {
  return { runtime, containerId: 'c1', podIp: '127.0.0.1', container };
}

describe('resolveProbePort', () => {
  it('takes numbers, numeric strings and container port names', () => {
    expect(resolveProbePort(80, container)).toBe(80);
    expect(resolveProbePort('81', container)).toBe(81);
    expect(resolveProbePort('web', container)).toBe(8080);
    expect(resolveProbePort('nope', container)).toBeUndefined();
  });
});

describe('runProbe', () => {
  it('passes an httpGet on 2xx and 3xx (redirects not followed), fails on 4xx, sends headers', async () => {
    const get = (path: string) =>
      runProbe(
        { httpGet: { path, port: httpPort, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } },
        target(),
        1_000,
      );
    expect(await get('/ok')).toEqual({ ok: true });
    expect(await get('/moved')).toEqual({ ok: true });
    expect(await get('/missing')).toEqual({
      ok: false,
      message: 'HTTP probe failed with statuscode: 404',
    });
    expect(headersSeen).toContain('yes');
  });

  it('fails an httpGet that gets no answer within the timeout', async () => {
    const started = Date.now();
    const outcome = await runProbe({ httpGet: { path: '/', port: silentPort } }, target(), 200);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toContain('timed out');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('passes a tcpSocket that connects and fails one that is refused', async () => {
    expect(await runProbe({ tcpSocket: { port: httpPort } }, target(), 1_000)).toEqual({
      ok: true,
    });
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await runProbe({ tcpSocket: { port } }, target(), 1_000);
    expect(refused.ok).toBe(false);
    expect(refused.message).toContain('ECONNREFUSED');
  });

  it('runs an exec through the runtime: exit 0 passes, anything else fails', async () => {
    const runtime = new FakeRuntime(systemClock);
    runtime.execResults.set('check it', 2);
    expect(await runProbe({ exec: { command: ['fine'] } }, target(runtime), 1_000)).toEqual({
      ok: true,
    });
    const failed = await runProbe({ exec: { command: ['check', 'it'] } }, target(runtime), 1_000);
    expect(failed).toMatchObject({ ok: false });
    expect(failed.message).toContain('exec exited 2');
    expect(runtime.calls).toEqual(['exec c1 fine', 'exec c1 check it']);
  });

  it('fails a probe of an unknown named port or of no kind it can run', async () => {
    expect(await runProbe({ tcpSocket: { port: 'nope' } }, target(), 100)).toEqual({
      ok: false,
      message: 'unknown port nope',
    });
    expect((await runProbe({ grpc: { port: 1 } }, target(), 100)).ok).toBe(false);
  });
});
