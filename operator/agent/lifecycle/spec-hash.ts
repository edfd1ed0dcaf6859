import { createHash } from 'node:crypto';
import type { Container, Pod } from '../../model/generated/types.js';
import { canonicalJson } from '../../model/json.js';

/**
 * Spec hashes, stored in each container's `io.berth.spec-hash` label. The label holds
 * `<sandbox part>-<container part>`: the sandbox part covers what the pod's shared network
 * holder was made from (hostname, host ports), the container part the container's own spec
 * and the volumes it mounts. A changed container part replaces that container; a changed
 * sandbox part replaces the whole pod, since host ports are bound on the sandbox.
 */

function shortHash(value: unknown, length: number): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
}

/** What the sandbox depends on. */
export function sandboxHash(pod: Pod): string {
  const ports = pod.spec.containers.flatMap((container) =>
    (container.ports ?? []).map((port) => ({
      containerPort: port.containerPort,
      hostPort: port.hostPort,
      hostIP: port.hostIP,
      protocol: port.protocol ?? 'TCP',
    })),
  );
  return shortHash(
    {
      uid: pod.metadata.uid,
      name: pod.metadata.name,
      hostname: pod.spec.hostname,
      subdomain: pod.spec.subdomain,
      hostNetwork: pod.spec.hostNetwork,
      ports,
    },
    8,
  );
}

/** What one container depends on: its spec and the volumes it mounts. */
export function containerHash(pod: Pod, container: Container): string {
  const mounted = new Set((container.volumeMounts ?? []).map((mount) => mount.name));
  const volumes = (pod.spec.volumes ?? []).filter((volume) => mounted.has(volume.name));
  return shortHash({ container, volumes }, 16);
}

/** The full label value for a pod's container. */
export function specHash(pod: Pod, container: Container): string {
  return `${sandboxHash(pod)}-${containerHash(pod, container)}`;
}

/** The sandbox part of a label value ('' when the value has no such part). */
export function sandboxPartOf(labelValue: string): string {
  const dash = labelValue.indexOf('-');
  return dash < 0 ? '' : labelValue.slice(0, dash);
}

/**
 * The uid berth uses for a pod: metadata.uid when the manifest has one, else one derived
 * from namespace and name (manifests in git rarely carry a uid, and the agent must find the
 * same pod again after a restart).
 */
export function podUid(pod: Pod): string {
  const given = pod.metadata.uid;
  if (given !== undefined && given !== '') return given;
  const digest = createHash('sha256')
    .update(`${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`)
    .digest('hex');
  // Shaped like a UUID, as Kubernetes uids are.
  return `${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`;
}

export { canonicalJson };
