import { request } from 'node:http';
import { request as requestTls } from 'node:https';
import { connect } from 'node:net';
import type { Container, IntOrString, Probe } from '../model/generated/types.js';
import type { ContainerRuntime } from './runtime.js';

/** The outcome of one probe run. */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly message?: string;
}

export interface ProbeTarget {
  readonly runtime: ContainerRuntime;
  readonly containerId: string;
  /** The pod's IP: where httpGet and tcpSocket connect unless the probe names a host. */
  readonly podIp: string;
  /** The probed container, for ports given by name. */
  readonly container: Container;
}

/** Resolves a probe's port: a number, or the name of one of the container's ports. */
export function resolveProbePort(port: IntOrString, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  const numeric = Number(port);
  if (port !== '' && Number.isInteger(numeric)) return numeric;
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

/** Runs a probe once: exec through the runtime, httpGet and tcpSocket from the agent. */
export async function runProbe(
  probe: Probe,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  try {
    if (probe.exec !== undefined) {
      const result = await target.runtime.exec(
        target.containerId,
        probe.exec.command ?? [],
        timeoutMs,
      );
      return result.exitCode === 0
        ? { ok: true }
        : { ok: false, message: `exec exited ${result.exitCode}: ${result.output.trim()}` };
    }
    if (probe.httpGet !== undefined) {
      const port = resolveProbePort(probe.httpGet.port, target.container);
      if (port === undefined) return { ok: false, message: `unknown port ${probe.httpGet.port}` };
      const headers: Record<string, string> = { 'User-Agent': 'berth-probe/1.0' };
      for (const header of probe.httpGet.httpHeaders ?? []) headers[header.name] = header.value;
      return await httpProbe(
        probe.httpGet.scheme === 'HTTPS',
        probe.httpGet.host ?? target.podIp,
        port,
        probe.httpGet.path ?? '/',
        headers,
        timeoutMs,
      );
    }
    if (probe.tcpSocket !== undefined) {
      const port = resolveProbePort(probe.tcpSocket.port, target.container);
      if (port === undefined) return { ok: false, message: `unknown port ${probe.tcpSocket.port}` };
      return await tcpProbe(probe.tcpSocket.host ?? target.podIp, port, timeoutMs);
    }
    return {
      ok: false,
      message: 'probe has no exec, httpGet or tcpSocket (grpc is not supported)',
    };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** 2xx and 3xx pass, as in Kubernetes; redirects are not followed. */
function httpProbe(
  tls: boolean,
  host: string,
  port: number,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const send = tls ? requestTls : request;
    const req = send(
      {
        host,
        port,
        path: path.startsWith('/') ? path : `/${path}`,
        method: 'GET',
        headers,
        timeout: timeoutMs,
        // Kubernetes does not verify certificates of probed containers.
        ...(tls ? { rejectUnauthorized: false } : {}),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        response.resume();
        resolve(
          status >= 200 && status < 400
            ? { ok: true }
            : { ok: false, message: `HTTP probe failed with statuscode: ${status}` },
        );
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`HTTP probe timed out after ${timeoutMs} ms`));
    });
    req.on('error', (error) => resolve({ ok: false, message: error.message }));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${host}:${port}: timeout after ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: true });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, message: error.message });
    });
  });
}
