/**
 * The environment variables a pod gets for the services of its namespace that exist when it
 * starts, exactly as the kubelet makes them (pkg/kubelet/envvars/envvars.go). Pure.
 */

import type { ServiceView } from './types.js';

export interface ServiceEnvVar {
  readonly name: string;
  readonly value: string;
}

/** Upper-cased, '-' -> '_' (the kubelet's makeEnvVariableName). */
export function serviceEnvName(text: string): string {
  return text.replaceAll('-', '_').toUpperCase();
}

/**
 * For each service of `namespace` with a cluster IP (headless services give none), ordered
 * by name: `{N}_SERVICE_HOST`, `{N}_SERVICE_PORT` (first port), `{N}_SERVICE_PORT_{PORTNAME}`
 * per named port, then the Docker-link variables: `{N}_PORT` (first port) and per port
 * `{N}_PORT_{port}_{PROTO}`, `..._PROTO`, `..._PORT`, `..._ADDR`.
 */
export function serviceEnvironment(
  services: readonly ServiceView[],
  namespace: string,
): ServiceEnvVar[] {
  const chosen = services
    .filter((s) => s.namespace === namespace && s.clusterIP !== undefined && s.clusterIP !== '')
    .filter((s) => s.ports.length > 0)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: ServiceEnvVar[] = [];
  for (const service of chosen) {
    const ip = service.clusterIP ?? '';
    const prefix = serviceEnvName(service.name);
    const first = service.ports[0];
    if (first === undefined) continue;
    out.push({ name: `${prefix}_SERVICE_HOST`, value: ip });
    const portVar = `${prefix}_SERVICE_PORT`;
    out.push({ name: portVar, value: String(first.port) });
    for (const port of service.ports) {
      if (port.name !== '') {
        out.push({ name: `${portVar}_${serviceEnvName(port.name)}`, value: String(port.port) });
      }
    }
    service.ports.forEach((port, index) => {
      const protocol = port.protocol;
      const lower = protocol.toLowerCase();
      const url = `${lower}://${ip}:${port.port}`;
      if (index === 0) out.push({ name: `${prefix}_PORT`, value: url });
      const portPrefix = `${prefix}_PORT_${port.port}_${protocol.toUpperCase()}`;
      out.push({ name: portPrefix, value: url });
      out.push({ name: `${portPrefix}_PROTO`, value: lower });
      out.push({ name: `${portPrefix}_PORT`, value: String(port.port) });
      out.push({ name: `${portPrefix}_ADDR`, value: ip });
    });
  }
  return out;
}
