/**
 * The defaults the Kubernetes v1 API server fills in on create (pkg/apis/core/v1/defaults.go),
 * applied to berth's desired state so that a field written out and the same field left to
 * its default compare equal, and later diffs stay quiet. Quantities are not rewritten: the
 * user's text stays, and comparison by value is quantity.ts's job.
 *
 * Left out on purpose: fields the server allocates (clusterIP, clusterIPs, ipFamilies,
 * ipFamilyPolicy, nodePort numbers, uid); defaults berth has no use for and that would only
 * add noise to every diff (schedulerName "default-scheduler", an empty securityContext and its
 * procMount, the ImageVolumeSource pull policy); and the API server's rounding of resource
 * quantities up to milli units (SetDefaults_ResourceList), which would rewrite the user's text.
 */

import type {
  Container,
  HTTPGetAction,
  LifecycleHandler,
  ObjectFieldSelector,
  ObjectMeta,
  PodSpec,
  Probe,
  Service,
  ServiceSpec,
  Volume,
} from '../model/generated/types.js';
import { copyJson } from '../model/json.js';
import type { ManifestObject } from './types.js';

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** 0644: the mode of files in secret, configMap and downwardAPI volumes. */
export const DEFAULT_VOLUME_FILE_MODE = 0o644;
/** Three hours, the ClientIP session affinity timeout Kubernetes uses. */
export const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10_800;

/** Probe settings with their defaults; 0 counts as unset, as in Kubernetes' SetDefaults_Probe. */
export const PROBE_DEFAULTS = {
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

// Every volume source field of the v1 schema; a volume with none of them becomes an emptyDir.
export const VOLUME_SOURCE_FIELDS = [
  'awsElasticBlockStore',
  'azureDisk',
  'azureFile',
  'cephfs',
  'cinder',
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'fc',
  'flexVolume',
  'flocker',
  'gcePersistentDisk',
  'gitRepo',
  'glusterfs',
  'hostPath',
  'image',
  'iscsi',
  'nfs',
  'persistentVolumeClaim',
  'photonPersistentDisk',
  'portworxVolume',
  'projected',
  'quobyte',
  'rbd',
  'scaleIO',
  'secret',
  'storageos',
  'vsphereVolume',
] as const satisfies readonly (keyof Volume)[];

/**
 * The object as the API server would store it after defaulting. Returns a new object (the
 * input is not changed) and is idempotent: applying it twice gives the same result as once.
 */
export function applyDefaults(obj: ManifestObject): ManifestObject {
  switch (obj.kind) {
    case 'Pod': {
      const pod = copyJson(obj.object);
      defaultMetadata(pod.metadata);
      defaultPodSpec(pod.spec);
      defaultPodOnly(pod.spec);
      return { kind: 'Pod', object: pod, origin: obj.origin, locate: locator(obj) };
    }
    case 'ReplicationController': {
      const rc = copyJson(obj.object);
      defaultMetadata(rc.metadata);
      const templateLabels = rc.spec.template.metadata?.labels ?? {};
      if (Object.keys(templateLabels).length > 0) {
        if (rc.spec.selector === undefined || Object.keys(rc.spec.selector).length === 0) {
          rc.spec.selector = { ...templateLabels };
        }
        if (rc.metadata.labels === undefined || Object.keys(rc.metadata.labels).length === 0) {
          rc.metadata.labels = { ...templateLabels };
        }
      }
      rc.spec.replicas ??= 1;
      defaultPodSpec(rc.spec.template.spec);
      return {
        kind: 'ReplicationController',
        object: rc,
        origin: obj.origin,
        locate: locator(obj),
      };
    }
    case 'Service': {
      const service = copyJson(obj.object);
      defaultMetadata(service.metadata);
      defaultServiceSpec(service);
      return { kind: 'Service', object: service, origin: obj.origin, locate: locator(obj) };
    }
    default: {
      const unreachable: never = obj;
      return unreachable;
    }
  }
}

/** Positions stay those of the source: a defaulted field points at its nearest written ancestor. */
function locator(obj: ManifestObject): ManifestObject['locate'] {
  return (path) => obj.locate(path);
}

function defaultMetadata(meta: ObjectMeta): void {
  if (meta.namespace === undefined || meta.namespace === '') meta.namespace = DEFAULT_NAMESPACE;
}

function defaultPodSpec(spec: PodSpec): void {
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
  for (const container of spec.containers) defaultContainer(container, spec.hostNetwork === true);
  for (const container of spec.initContainers ?? []) {
    defaultContainer(container, spec.hostNetwork === true);
  }
  for (const volume of spec.volumes ?? []) defaultVolume(volume);
}

/**
 * Defaults Kubernetes gives a Pod but not a pod template (SetDefaults_Pod): a controller's
 * pods get them when they are created as pods.
 */
function defaultPodOnly(spec: PodSpec): void {
  // Service environment variables are injected unless the pod opts out.
  spec.enableServiceLinks ??= true;
  // A limit without a request requests the limit (the same text, so nothing is rewritten).
  for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const limits = container.resources?.limits;
    if (limits === undefined || container.resources === undefined) continue;
    container.resources.requests ??= {};
    const requests = container.resources.requests;
    for (const [name, limit] of Object.entries(limits)) {
      if (!Object.hasOwn(requests, name)) requests[name] = limit;
    }
  }
}

function defaultContainer(container: Container, hostNetwork: boolean): void {
  container.imagePullPolicy ??= defaultPullPolicy(container.image);
  container.terminationMessagePath ??= DEFAULT_TERMINATION_MESSAGE_PATH;
  container.terminationMessagePolicy ??= 'File';
  for (const port of container.ports ?? []) {
    port.protocol ??= 'TCP';
    // On the host's network the container port is the host port.
    if (hostNetwork && (port.hostPort === undefined || port.hostPort === 0)) {
      port.hostPort = port.containerPort;
    }
  }
  for (const env of container.env ?? []) {
    if (env.valueFrom?.fieldRef !== undefined) defaultFieldSelector(env.valueFrom.fieldRef);
  }
  for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
    if (probe !== undefined) defaultProbe(probe);
  }
  defaultLifecycleHandler(container.lifecycle?.postStart);
  defaultLifecycleHandler(container.lifecycle?.preStop);
}

/**
 * `Always` when the image names no tag or the tag `latest`, else `IfNotPresent`. A digest
 * without a tag pins the image, so it counts as a tag.
 */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const tag = imageTag(image);
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/** The tag of an image reference: `latest` when it names neither tag nor digest. */
function imageTag(image: string): string {
  const at = image.indexOf('@');
  const name = at === -1 ? image : image.slice(0, at);
  const hasDigest = at !== -1;
  // A ':' after the last '/' is a tag; before it, a registry port (`localhost:5000/app`).
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  const tag = colon === -1 ? '' : name.slice(colon + 1);
  if (tag === '' && !hasDigest) return 'latest';
  return tag;
}

function defaultFieldSelector(selector: ObjectFieldSelector): void {
  if (selector.apiVersion === undefined || selector.apiVersion === '') selector.apiVersion = 'v1';
}

function defaultProbe(probe: Probe): void {
  if (!probe.timeoutSeconds) probe.timeoutSeconds = PROBE_DEFAULTS.timeoutSeconds;
  if (!probe.periodSeconds) probe.periodSeconds = PROBE_DEFAULTS.periodSeconds;
  if (!probe.successThreshold) probe.successThreshold = PROBE_DEFAULTS.successThreshold;
  if (!probe.failureThreshold) probe.failureThreshold = PROBE_DEFAULTS.failureThreshold;
  if (probe.httpGet !== undefined) defaultHttpGet(probe.httpGet);
}

function defaultLifecycleHandler(handler: LifecycleHandler | undefined): void {
  if (handler?.httpGet !== undefined) defaultHttpGet(handler.httpGet);
}

function defaultHttpGet(action: HTTPGetAction): void {
  if (action.path === undefined || action.path === '') action.path = '/';
  action.scheme ??= 'HTTP';
}

function defaultVolume(volume: Volume): void {
  if (VOLUME_SOURCE_FIELDS.every((field) => volume[field] === undefined)) volume.emptyDir = {};
  if (volume.emptyDir !== undefined) volume.emptyDir.medium ??= '';
  if (volume.hostPath !== undefined) volume.hostPath.type ??= '';
  if (volume.secret !== undefined) volume.secret.defaultMode ??= DEFAULT_VOLUME_FILE_MODE;
  if (volume.configMap !== undefined) volume.configMap.defaultMode ??= DEFAULT_VOLUME_FILE_MODE;
  if (volume.downwardAPI !== undefined) {
    volume.downwardAPI.defaultMode ??= DEFAULT_VOLUME_FILE_MODE;
    for (const item of volume.downwardAPI.items ?? []) {
      if (item.fieldRef !== undefined) defaultFieldSelector(item.fieldRef);
    }
  }
}

function defaultServiceSpec(service: Service): void {
  const spec: ServiceSpec = service.spec;
  spec.sessionAffinity ??= 'None';
  spec.type ??= 'ClusterIP';
  // Kubernetes drops affinity settings that the affinity type does not use.
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    spec.sessionAffinityConfig ??= {};
    spec.sessionAffinityConfig.clientIP ??= {};
    spec.sessionAffinityConfig.clientIP.timeoutSeconds ??= DEFAULT_CLIENT_IP_TIMEOUT_SECONDS;
  }
  for (const port of spec.ports ?? []) {
    port.protocol ??= 'TCP';
    if (port.targetPort === undefined || port.targetPort === 0 || port.targetPort === '') {
      port.targetPort = port.port;
    }
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
    spec.externalTrafficPolicy ??= 'Cluster';
  }
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  if (spec.type !== 'ExternalName') spec.internalTrafficPolicy ??= 'Cluster';
}
