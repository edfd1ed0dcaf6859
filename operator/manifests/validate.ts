/**
 * Semantic validation: the rules the Kubernetes v1 API server enforces beyond the JSON
 * Schema (pkg/apis/core/validation), so that every manifest berth accepts would also be
 * accepted by a real cluster. Objects are checked as the API server checks them, after
 * defaulting (a volume with no source is an emptyDir, an RC selector comes from the
 * template's labels); positions still point into the user's file. Every problem is
 * collected; none stops the others. Enumerations (restartPolicy, dnsPolicy, protocol,
 * Service type, sessionAffinity, imagePullPolicy, probe scheme) are the schema's job and are
 * not repeated here.
 */
import type {
  Container,
  EnvVar,
  HTTPGetAction,
  IntOrString,
  KeyToPath,
  LifecycleHandler,
  ObjectFieldSelector,
  ObjectMeta,
  PodSpec,
  Probe,
  ReplicationController,
  ResourceFieldSelector,
  ResourceRequirements,
  Service,
  Volume,
  VolumeMount,
} from '../model/generated/types.js';
import {
  validateAnnotations,
  validateDns1035Label,
  validateDns1123Label,
  validateDns1123Subdomain,
  validateEnvVarName,
  validateLabelKey,
  validateLabels,
  validatePortName,
} from '../model/labels.js';
import {
  type FieldPath,
  formatFieldPath,
  type Problem,
  type ProblemCode,
} from '../model/problem.js';
import {
  compareQuantities,
  formatQuantity,
  isQuantityError,
  parseQuantity,
  type Quantity,
  quantityEquals,
} from '../model/quantity.js';
import { applyDefaults, DEFAULT_NAMESPACE, VOLUME_SOURCE_FIELDS } from './defaults.js';
import { type ManifestObject, objectRef, type SupportedKind } from './types.js';

/** Services may ask for a node port only in this range (the API server's default). */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;
/** Kubernetes' bound on ClientIP session affinity (one day). */
const MAX_CLIENT_IP_TIMEOUT_SECONDS = 86_400;

const KIND_WORDS: Record<SupportedKind, string> = {
  Pod: 'pod',
  ReplicationController: 'replicationcontroller',
  Service: 'service',
};

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function list(values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')} and ${values[values.length - 1]}`;
}

/** Collects problems for one object, placing each at the user's text for its field. */
class Problems {
  readonly all: Problem[] = [];
  constructor(
    private readonly source: ManifestObject,
    private readonly ref: string,
  ) {}

  add(code: ProblemCode, path: FieldPath, message: string): void {
    this.all.push({
      code,
      origin: this.source.locate(path),
      object: this.ref,
      field: formatFieldPath(path),
      message,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Per-object rules. Depends only on the object, so results can be cached with the file.
 * Accepts the object as written or already defaulted: it is checked after defaulting either way.
 */
export function validateObject(obj: ManifestObject): Problem[] {
  return validateAndDefault(obj).problems;
}

/** Defaults the object once and checks it: what the loader needs, without defaulting twice. */
export function validateAndDefault(obj: ManifestObject): {
  defaulted: ManifestObject;
  problems: Problem[];
} {
  const defaulted = applyDefaults(obj);
  const problems = new Problems(obj, objectRef(obj.kind, objectName(defaulted)));
  // Metadata as written: defaulting only adds a valid namespace and, for an RC, copies the
  // template's labels, whose problems are reported at the template.
  const writtenMeta = obj.object.metadata;
  switch (defaulted.kind) {
    case 'Pod':
      checkMetadata(problems, writtenMeta, 'subdomain');
      checkPodSpec(problems, defaulted.object.spec, ['spec'], { inTemplate: false });
      break;
    case 'ReplicationController':
      checkMetadata(problems, writtenMeta, 'subdomain');
      checkReplicationController(problems, defaulted.object, selectorWritten(obj));
      break;
    case 'Service':
      checkMetadata(problems, writtenMeta, 'dns1035');
      checkService(problems, defaulted.object);
      break;
    default: {
      const unreachable: never = defaulted;
      return unreachable;
    }
  }
  return { defaulted, problems: problems.all };
}

/**
 * Rules across the whole source: one object per kind, namespace and name (a duplicate is
 * reported at each place, naming the others), and no node port claimed by two services.
 */
export function validateAcross(objs: readonly ManifestObject[]): Problem[] {
  const problems: Problem[] = [];
  const byKey = new Map<string, ManifestObject[]>();
  for (const obj of objs) {
    const name = obj.object.metadata.name;
    if (name === undefined || name === '') continue;
    const key = `${obj.kind}\u0000${namespaceOf(obj)}\u0000${name}`;
    const group = byKey.get(key);
    if (group === undefined) byKey.set(key, [obj]);
    else group.push(obj);
  }
  const namePath = ['metadata', 'name'];
  for (const group of byKey.values()) {
    if (group.length < 2) continue;
    for (const obj of group) {
      const others = group
        .filter((other) => other !== obj)
        .map((other) => formatOrigin(other.locate(namePath)));
      problems.push({
        code: 'object.duplicate',
        origin: obj.locate(namePath),
        object: objectRef(obj.kind, obj.object.metadata.name),
        field: formatFieldPath(namePath),
        message: `duplicate ${KIND_WORDS[obj.kind]} ${show(obj.object.metadata.name)} in namespace ${show(namespaceOf(obj))}: also defined at ${list(others)}`,
      });
    }
  }
  problems.push(...nodePortConflicts(objs));
  return problems;
}

/** Whether the user wrote a selector, rather than leaving it to default from the template. */
function selectorWritten(obj: ManifestObject): boolean {
  if (obj.kind !== 'ReplicationController') return false;
  return Object.keys(obj.object.spec.selector ?? {}).length > 0;
}

function objectName(obj: ManifestObject): string | undefined {
  const meta = obj.object.metadata;
  if (meta.name !== undefined && meta.name !== '') return meta.name;
  return undefined;
}

function namespaceOf(obj: ManifestObject): string {
  const namespace = obj.object.metadata.namespace;
  return namespace === undefined || namespace === '' ? DEFAULT_NAMESPACE : namespace;
}

function formatOrigin(origin: { file: string; line: number; column: number }): string {
  return `${origin.file}:${origin.line}:${origin.column}`;
}

/** Node ports are allocated cluster-wide: two services may not ask for the same one. */
function nodePortConflicts(objs: readonly ManifestObject[]): Problem[] {
  const claims = new Map<number, { obj: ManifestObject; path: FieldPath }[]>();
  for (const obj of objs) {
    if (obj.kind !== 'Service') continue;
    const type = obj.object.spec.type ?? 'ClusterIP';
    if (type !== 'NodePort' && type !== 'LoadBalancer') continue;
    const seen = new Set<number>();
    (obj.object.spec.ports ?? []).forEach((port, index) => {
      if (port.nodePort === undefined || port.nodePort === 0 || seen.has(port.nodePort)) return;
      seen.add(port.nodePort);
      const entry = { obj, path: ['spec', 'ports', index, 'nodePort'] };
      const existing = claims.get(port.nodePort);
      if (existing === undefined) claims.set(port.nodePort, [entry]);
      else existing.push(entry);
    });
  }
  const problems: Problem[] = [];
  for (const [nodePort, group] of claims) {
    if (group.length < 2) continue;
    for (const claim of group) {
      const others = group
        .filter((other) => other !== claim)
        .map(
          (other) =>
            `${objectRef('Service', other.obj.object.metadata.name)} (${formatOrigin(other.obj.locate(other.path))})`,
        );
      problems.push({
        code: 'port.conflict',
        origin: claim.obj.locate(claim.path),
        object: objectRef('Service', claim.obj.object.metadata.name),
        field: formatFieldPath(claim.path),
        message: `node port ${nodePort} is also requested by ${list(others)}; each node port belongs to one service`,
      });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Metadata

/** Kubernetes validates a generateName prefix as a name with its trailing '-' masked. */
function maskTrailingDash(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('-') ? `${prefix.slice(0, -1)}a` : prefix;
}

function checkMetadata(problems: Problems, meta: ObjectMeta, nameRule: 'subdomain' | 'dns1035') {
  const validateName = nameRule === 'subdomain' ? validateDns1123Subdomain : validateDns1035Label;
  const hasName = meta.name !== undefined && meta.name !== '';
  const hasGenerateName = meta.generateName !== undefined && meta.generateName !== '';
  if (!hasName) {
    // The API server would accept generateName alone, but `kubectl apply` refuses it, and so
    // does berth: a declared object must have a name to be found again on the next sync.
    problems.add(
      'field.required',
      ['metadata', 'name'],
      hasGenerateName
        ? 'a name is required: berth applies objects declaratively and finds them again by name, so generateName alone cannot be tracked (as with kubectl apply)'
        : 'a name is required',
    );
  }
  if (hasName && meta.name !== undefined) {
    const message = validateName(meta.name);
    if (message !== undefined) {
      problems.add('name.invalid', ['metadata', 'name'], `${show(meta.name)} ${message}`);
    }
  }
  if (hasGenerateName && meta.generateName !== undefined) {
    const message = validateName(maskTrailingDash(meta.generateName));
    if (message !== undefined) {
      problems.add(
        'name.invalid',
        ['metadata', 'generateName'],
        `${show(meta.generateName)} is not a valid name prefix: with a random suffix it ${message}`,
      );
    }
  }
  if (meta.namespace !== undefined && meta.namespace !== '') {
    const message = validateDns1123Label(meta.namespace);
    if (message !== undefined) {
      problems.add('name.invalid', ['metadata', 'namespace'], `${show(meta.namespace)} ${message}`);
    }
  }
  checkLabelMap(problems, meta.labels, ['metadata', 'labels'], 'label.invalid', 'label');
  checkAnnotationMap(problems, meta.annotations, ['metadata', 'annotations']);
}

function checkLabelMap(
  problems: Problems,
  labels: Readonly<Record<string, string>> | undefined,
  path: FieldPath,
  code: ProblemCode,
  what: string,
): void {
  if (labels === undefined) return;
  for (const problem of validateLabels(labels)) {
    const key = problem.key ?? '';
    const subject =
      problem.part === 'key' ? `${what} key ${show(key)}` : `${what} value ${show(labels[key])}`;
    problems.add(code, [...path, key], `${subject} ${problem.message}`);
  }
}

function checkAnnotationMap(
  problems: Problems,
  annotations: Readonly<Record<string, string>> | undefined,
  path: FieldPath,
): void {
  if (annotations === undefined) return;
  for (const problem of validateAnnotations(annotations)) {
    if (problem.key === undefined) problems.add('annotation.invalid', path, problem.message);
    else {
      problems.add(
        'annotation.invalid',
        [...path, problem.key],
        `annotation key ${show(problem.key)} ${problem.message}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ReplicationController

function checkReplicationController(
  problems: Problems,
  rc: ReplicationController,
  selectorIsWritten: boolean,
): void {
  const spec = rc.spec;
  if (spec.replicas !== undefined && spec.replicas < 0) {
    problems.add('field.invalid', ['spec', 'replicas'], `${spec.replicas} must be 0 or more`);
  }
  if (spec.minReadySeconds !== undefined && spec.minReadySeconds < 0) {
    problems.add(
      'field.invalid',
      ['spec', 'minReadySeconds'],
      `${spec.minReadySeconds} must be 0 or more`,
    );
  }
  const selector = spec.selector ?? {};
  const templateLabels = spec.template.metadata?.labels ?? {};
  if (Object.keys(selector).length === 0) {
    problems.add(
      'field.required',
      ['spec', 'selector'],
      'the selector must not be empty: set spec.selector, or labels in spec.template.metadata.labels for it to default to',
    );
  } else {
    // A defaulted selector is the template's labels, whose problems are reported there.
    if (selectorIsWritten) {
      checkLabelMap(problems, selector, ['spec', 'selector'], 'selector.invalid', 'selector');
    }
    for (const [key, value] of Object.entries(selector)) {
      if (!Object.hasOwn(templateLabels, key)) {
        problems.add(
          'selector.mismatch',
          ['spec', 'selector', key],
          `selector requires ${key}=${value} but spec.template.metadata.labels has no ${show(key)}: the controller would never see the pods it creates`,
        );
      } else if (templateLabels[key] !== value) {
        problems.add(
          'selector.mismatch',
          ['spec', 'selector', key],
          `selector requires ${key}=${value} but spec.template.metadata.labels has ${key}=${templateLabels[key]}: the controller would never see the pods it creates`,
        );
      }
    }
  }
  const templateMeta = spec.template.metadata;
  checkLabelMap(
    problems,
    templateMeta?.labels,
    ['spec', 'template', 'metadata', 'labels'],
    'label.invalid',
    'label',
  );
  checkAnnotationMap(problems, templateMeta?.annotations, [
    'spec',
    'template',
    'metadata',
    'annotations',
  ]);
  checkPodSpec(problems, spec.template.spec, ['spec', 'template', 'spec'], { inTemplate: true });
}

// ---------------------------------------------------------------------------------------------
// Pod spec

interface PodContext {
  /** A replication controller's pod template: restartPolicy must be Always. */
  readonly inTemplate: boolean;
}

/** Names seen so far in a pod, with the path of the first use. */
type FirstUse = Map<string, FieldPath>;

function checkPodSpec(
  problems: Problems,
  spec: PodSpec,
  path: FieldPath,
  context: PodContext,
): void {
  if (spec.containers.length === 0) {
    problems.add('field.required', [...path, 'containers'], 'at least one container is required');
  }
  if (context.inTemplate && spec.restartPolicy !== 'Always') {
    problems.add(
      'field.invalid',
      [...path, 'restartPolicy'],
      `${show(spec.restartPolicy)} is not supported in a replication controller's template: restartPolicy must be "Always"`,
    );
  }
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    problems.add(
      'field.invalid',
      [...path, 'terminationGracePeriodSeconds'],
      `${spec.terminationGracePeriodSeconds} must be 0 or more`,
    );
  }
  if (spec.activeDeadlineSeconds !== undefined) {
    if (context.inTemplate) {
      problems.add(
        'field.invalid',
        [...path, 'activeDeadlineSeconds'],
        "is not supported in a replication controller's template: its pods run until replaced",
      );
    } else if (spec.activeDeadlineSeconds < 1) {
      problems.add(
        'field.invalid',
        [...path, 'activeDeadlineSeconds'],
        `${spec.activeDeadlineSeconds} must be 1 or more`,
      );
    }
  }
  checkLabelMap(
    problems,
    spec.nodeSelector,
    [...path, 'nodeSelector'],
    'label.invalid',
    'nodeSelector',
  );
  checkOptionalName(problems, spec.nodeName, [...path, 'nodeName'], validateDns1123Subdomain);
  checkOptionalName(problems, spec.hostname, [...path, 'hostname'], validateDns1123Label);
  checkOptionalName(problems, spec.subdomain, [...path, 'subdomain'], validateDns1123Label);
  checkOptionalName(
    problems,
    spec.serviceAccountName,
    [...path, 'serviceAccountName'],
    validateDns1123Subdomain,
  );
  checkDns(problems, spec, path);
  if (spec.resources !== undefined) {
    checkResources(problems, spec.resources, [...path, 'resources']);
  }

  const volumeNames = checkVolumes(problems, spec.volumes ?? [], [...path, 'volumes']);
  const containerNames: FirstUse = new Map();
  const groups: [readonly Container[], 'containers' | 'initContainers'][] = [
    [spec.containers, 'containers'],
    [spec.initContainers ?? [], 'initContainers'],
  ];
  for (const [containers, field] of groups) {
    // Init containers run before the others, so their ports cannot clash with them.
    const portNames: FirstUse = new Map();
    const hostPorts: FirstUse = new Map();
    containers.forEach((container, index) => {
      const containerPath = [...path, field, index];
      const first = containerNames.get(container.name);
      if (first !== undefined) {
        problems.add(
          'container.duplicate-name',
          [...containerPath, 'name'],
          `container name ${show(container.name)} is already used by ${formatFieldPath(first)}; names must be unique within the pod`,
        );
      } else {
        containerNames.set(container.name, containerPath);
      }
      checkContainer(problems, container, containerPath, {
        volumeNames,
        portNames,
        hostPorts,
        hostNetwork: spec.hostNetwork === true,
        isInit: field === 'initContainers',
      });
    });
  }
}

function checkOptionalName(
  problems: Problems,
  value: string | undefined,
  path: FieldPath,
  validate: (value: string) => string | undefined,
): void {
  if (value === undefined || value === '') return;
  const message = validate(value);
  if (message !== undefined) problems.add('name.invalid', path, `${show(value)} ${message}`);
}

function checkDns(problems: Problems, spec: PodSpec, path: FieldPath): void {
  const nameservers = spec.dnsConfig?.nameservers ?? [];
  if (spec.dnsPolicy === 'None' && nameservers.length === 0) {
    problems.add(
      'field.required',
      [...path, 'dnsConfig', 'nameservers'],
      'dnsPolicy "None" needs at least one nameserver in dnsConfig.nameservers',
    );
  }
  if (nameservers.length > 3) {
    problems.add(
      'field.invalid',
      [...path, 'dnsConfig', 'nameservers'],
      `has ${nameservers.length} entries; at most 3 are allowed`,
    );
  }
  nameservers.forEach((server, index) => {
    if (!isIp(server)) {
      problems.add(
        'field.invalid',
        [...path, 'dnsConfig', 'nameservers', index],
        `${show(server)} must be an IPv4 or IPv6 address`,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Volumes

/** Checks each volume; returns the defined names (first definition wins). */
function checkVolumes(problems: Problems, volumes: readonly Volume[], path: FieldPath): FirstUse {
  const names: FirstUse = new Map();
  volumes.forEach((volume, index) => {
    const volumePath = [...path, index];
    const nameMessage = validateDns1123Label(volume.name);
    if (nameMessage !== undefined) {
      problems.add(
        'volume.invalid',
        [...volumePath, 'name'],
        `volume name ${show(volume.name)} ${nameMessage}`,
      );
    }
    const first = names.get(volume.name);
    if (first !== undefined) {
      problems.add(
        'volume.duplicate-name',
        [...volumePath, 'name'],
        `volume name ${show(volume.name)} is already used by ${formatFieldPath(first)}; names must be unique within the pod`,
      );
    } else {
      names.set(volume.name, volumePath);
    }
    const sources = VOLUME_SOURCE_FIELDS.filter((field) => volume[field] !== undefined);
    if (sources.length > 1) {
      problems.add(
        'volume.invalid',
        volumePath,
        `a volume has exactly one source; this one has ${list(sources)}`,
      );
    }
    checkVolumeSource(problems, volume, volumePath);
  });
  return names;
}

function hasDotDotElement(path: string): boolean {
  return path.split('/').includes('..');
}

function checkVolumeSource(problems: Problems, volume: Volume, path: FieldPath): void {
  if (volume.hostPath !== undefined) {
    const hostPath = volume.hostPath.path;
    if (!hostPath.startsWith('/')) {
      problems.add(
        'volume.invalid',
        [...path, 'hostPath', 'path'],
        `${show(hostPath)} must be an absolute path on the node (e.g. "/var/log")`,
      );
    } else if (hasDotDotElement(hostPath)) {
      problems.add(
        'volume.invalid',
        [...path, 'hostPath', 'path'],
        `${show(hostPath)} must not contain '..'`,
      );
    }
  }
  if (volume.gitRepo !== undefined) {
    if (volume.gitRepo.repository.trim() === '') {
      problems.add(
        'field.required',
        [...path, 'gitRepo', 'repository'],
        'the repository URL is required',
      );
    }
    const directory = volume.gitRepo.directory;
    if (directory !== undefined) {
      if (directory.startsWith('/')) {
        problems.add(
          'volume.invalid',
          [...path, 'gitRepo', 'directory'],
          `${show(directory)} must be a relative path inside the volume (or "." for its root)`,
        );
      } else if (hasDotDotElement(directory)) {
        problems.add(
          'volume.invalid',
          [...path, 'gitRepo', 'directory'],
          `${show(directory)} must not contain '..'`,
        );
      }
    }
  }
  if (volume.secret !== undefined) {
    const secretName = volume.secret.secretName;
    if (secretName === undefined || secretName === '') {
      problems.add(
        'field.required',
        [...path, 'secret', 'secretName'],
        'the name of the secret is required',
      );
    } else {
      checkOptionalName(
        problems,
        secretName,
        [...path, 'secret', 'secretName'],
        validateDns1123Subdomain,
      );
    }
    checkFileMode(problems, volume.secret.defaultMode, [...path, 'secret', 'defaultMode']);
    checkKeyToPaths(problems, volume.secret.items, [...path, 'secret', 'items']);
  }
  if (volume.configMap !== undefined) {
    const name = volume.configMap.name;
    if (name === undefined || name === '') {
      problems.add(
        'field.required',
        [...path, 'configMap', 'name'],
        'the name of the config map is required',
      );
    } else {
      checkOptionalName(problems, name, [...path, 'configMap', 'name'], validateDns1123Subdomain);
    }
    checkFileMode(problems, volume.configMap.defaultMode, [...path, 'configMap', 'defaultMode']);
    checkKeyToPaths(problems, volume.configMap.items, [...path, 'configMap', 'items']);
  }
  if (volume.emptyDir !== undefined) {
    const medium = volume.emptyDir.medium ?? '';
    if (
      medium !== '' &&
      medium !== 'Memory' &&
      medium !== 'HugePages' &&
      !medium.startsWith('HugePages-')
    ) {
      problems.add(
        'volume.invalid',
        [...path, 'emptyDir', 'medium'],
        `${show(medium)} must be "" (the node's disk) or "Memory" (tmpfs)`,
      );
    }
    if (volume.emptyDir.sizeLimit !== undefined) {
      checkQuantity(problems, volume.emptyDir.sizeLimit, [...path, 'emptyDir', 'sizeLimit']);
    }
  }
  if (volume.downwardAPI !== undefined) {
    checkFileMode(problems, volume.downwardAPI.defaultMode, [
      ...path,
      'downwardAPI',
      'defaultMode',
    ]);
    (volume.downwardAPI.items ?? []).forEach((item, index) => {
      const itemPath = [...path, 'downwardAPI', 'items', index];
      checkRelativeFilePath(problems, item.path, [...itemPath, 'path']);
      checkFileMode(problems, item.mode, [...itemPath, 'mode']);
      if ((item.fieldRef === undefined) === (item.resourceFieldRef === undefined)) {
        problems.add(
          'volume.invalid',
          itemPath,
          'needs exactly one of fieldRef and resourceFieldRef',
        );
      }
      if (item.fieldRef !== undefined) {
        checkFieldRef(problems, item.fieldRef, [...itemPath, 'fieldRef'], 'volume.invalid', true);
      }
      if (item.resourceFieldRef !== undefined) {
        checkResourceFieldRef(
          problems,
          item.resourceFieldRef,
          [...itemPath, 'resourceFieldRef'],
          'volume.invalid',
          true,
        );
      }
    });
  }
  if (volume.nfs !== undefined) {
    if (volume.nfs.server === '') {
      problems.add('field.required', [...path, 'nfs', 'server'], 'the NFS server is required');
    }
    if (!volume.nfs.path.startsWith('/')) {
      problems.add(
        'volume.invalid',
        [...path, 'nfs', 'path'],
        `${show(volume.nfs.path)} must be an absolute path on the server`,
      );
    }
  }
  if (volume.persistentVolumeClaim !== undefined && volume.persistentVolumeClaim.claimName === '') {
    problems.add(
      'field.required',
      [...path, 'persistentVolumeClaim', 'claimName'],
      'the claim name is required',
    );
  }
}

function checkFileMode(problems: Problems, mode: number | undefined, path: FieldPath): void {
  if (mode !== undefined && (mode < 0 || mode > 0o777)) {
    problems.add(
      'volume.invalid',
      path,
      `${mode} must be a file mode between 0000 and 0777 (octal), or 0 and 511 (decimal)`,
    );
  }
}

function checkRelativeFilePath(problems: Problems, filePath: string, path: FieldPath): void {
  if (filePath === '') problems.add('field.required', path, 'a relative file path is required');
  else if (filePath.startsWith('/')) {
    problems.add('volume.invalid', path, `${show(filePath)} must be a relative path`);
  } else if (hasDotDotElement(filePath) || filePath.startsWith('..')) {
    problems.add(
      'volume.invalid',
      path,
      `${show(filePath)} must not contain '..' or start with '..'`,
    );
  }
}

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

function configKeyProblem(key: string): string | undefined {
  if (key.length <= 253 && CONFIG_KEY.test(key) && key !== '.' && !key.startsWith('..')) {
    return undefined;
  }
  return `${show(key)} must be a key of letters, digits, '-', '_' and '.', at most 253 characters, not '.' and not starting with '..' (e.g. "config.yaml")`;
}

function checkKeyToPaths(
  problems: Problems,
  items: readonly KeyToPath[] | undefined,
  path: FieldPath,
): void {
  (items ?? []).forEach((item, index) => {
    const keyProblem = configKeyProblem(item.key);
    if (keyProblem !== undefined) {
      problems.add('volume.invalid', [...path, index, 'key'], keyProblem);
    }
    checkRelativeFilePath(problems, item.path, [...path, index, 'path']);
    checkFileMode(problems, item.mode, [...path, index, 'mode']);
  });
}

// ---------------------------------------------------------------------------------------------
// Containers

interface ContainerContext {
  readonly volumeNames: FirstUse;
  readonly portNames: FirstUse;
  readonly hostPorts: FirstUse;
  readonly hostNetwork: boolean;
  readonly isInit: boolean;
}

function checkContainer(
  problems: Problems,
  container: Container,
  path: FieldPath,
  context: ContainerContext,
): void {
  const nameMessage = validateDns1123Label(container.name);
  if (nameMessage !== undefined) {
    problems.add(
      'name.invalid',
      [...path, 'name'],
      `container name ${show(container.name)} ${nameMessage}`,
    );
  }
  if (container.image === '') {
    problems.add('field.required', [...path, 'image'], 'an image is required (e.g. "redis:7")');
  } else if (container.image.trim() !== container.image) {
    problems.add(
      'field.invalid',
      [...path, 'image'],
      `${show(container.image)} must not have leading or trailing whitespace`,
    );
  }
  checkContainerPorts(problems, container, path, context);
  checkEnv(problems, container, path);
  if (container.resources !== undefined) {
    checkResources(problems, container.resources, [...path, 'resources']);
  }
  checkVolumeMounts(
    problems,
    container.volumeMounts ?? [],
    [...path, 'volumeMounts'],
    context.volumeNames,
  );

  // An init container that is not a sidecar (restartPolicy Always) runs to completion: no probes.
  const runsToCompletion = context.isInit && container.restartPolicy !== 'Always';
  const probes = [
    ['livenessProbe', container.livenessProbe],
    ['readinessProbe', container.readinessProbe],
    ['startupProbe', container.startupProbe],
  ] as const;
  for (const [field, probe] of probes) {
    if (probe === undefined) continue;
    if (runsToCompletion) {
      problems.add(
        'probe.invalid',
        [...path, field],
        'init containers run to completion and may not have probes',
      );
      continue;
    }
    checkProbe(problems, probe, [...path, field], field);
  }
  if (container.restartPolicy !== undefined && !context.isInit) {
    problems.add(
      'field.invalid',
      [...path, 'restartPolicy'],
      'may only be set on init containers (as "Always", for sidecars); use the pod\'s restartPolicy',
    );
  } else if (container.restartPolicy !== undefined && container.restartPolicy !== 'Always') {
    problems.add(
      'field.invalid',
      [...path, 'restartPolicy'],
      `${show(container.restartPolicy)} is not supported: an init container's restartPolicy may only be "Always"`,
    );
  }
  const lifecycle = container.lifecycle;
  if (lifecycle?.postStart !== undefined) {
    checkLifecycleHandler(problems, lifecycle.postStart, [...path, 'lifecycle', 'postStart']);
  }
  if (lifecycle?.preStop !== undefined) {
    checkLifecycleHandler(problems, lifecycle.preStop, [...path, 'lifecycle', 'preStop']);
  }
}

function checkContainerPorts(
  problems: Problems,
  container: Container,
  path: FieldPath,
  context: ContainerContext,
): void {
  (container.ports ?? []).forEach((port, index) => {
    const portPath = [...path, 'ports', index];
    if (port.containerPort < 1 || port.containerPort > 65535) {
      problems.add(
        'port.invalid',
        [...portPath, 'containerPort'],
        `${port.containerPort} must be between 1 and 65535`,
      );
    }
    const hostPort = port.hostPort ?? 0;
    if (hostPort < 0 || hostPort > 65535) {
      problems.add(
        'port.invalid',
        [...portPath, 'hostPort'],
        `${hostPort} must be between 1 and 65535, or 0 for no host port`,
      );
    }
    if (context.hostNetwork && hostPort !== 0 && hostPort !== port.containerPort) {
      problems.add(
        'port.invalid',
        [...portPath, 'hostPort'],
        `${hostPort} must equal containerPort (${port.containerPort}) when the pod uses the host's network`,
      );
    }
    if (hostPort > 0 && hostPort <= 65535) {
      const protocol = port.protocol ?? 'TCP';
      const key = `${port.hostIP ?? ''}/${protocol}/${hostPort}`;
      const first = context.hostPorts.get(key);
      if (first !== undefined) {
        problems.add(
          'port.conflict',
          [...portPath, 'hostPort'],
          `host port ${hostPort}/${protocol}${port.hostIP ? ` on ${port.hostIP}` : ''} is already used by ${formatFieldPath(first)}`,
        );
      } else {
        context.hostPorts.set(key, [...portPath, 'hostPort']);
      }
    }
    if (port.name !== undefined && port.name !== '') {
      const nameMessage = validatePortName(port.name);
      if (nameMessage !== undefined) {
        problems.add(
          'port.invalid',
          [...portPath, 'name'],
          `port name ${show(port.name)} ${nameMessage}`,
        );
      }
      const first = context.portNames.get(port.name);
      if (first !== undefined) {
        problems.add(
          'port.duplicate-name',
          [...portPath, 'name'],
          `port name ${show(port.name)} is already used by ${formatFieldPath(first)}; port names must be unique within the pod`,
        );
      } else {
        context.portNames.set(port.name, [...portPath, 'name']);
      }
    }
  });
}

function checkVolumeMounts(
  problems: Problems,
  mounts: readonly VolumeMount[],
  path: FieldPath,
  volumeNames: FirstUse,
): void {
  const mountPaths: FirstUse = new Map();
  mounts.forEach((mount, index) => {
    const mountPath = [...path, index];
    if (!volumeNames.has(mount.name)) {
      const defined = [...volumeNames.keys()];
      problems.add(
        'volume.undefined',
        [...mountPath, 'name'],
        `no volume named ${show(mount.name)} in spec.volumes; defined: ${defined.length === 0 ? 'none' : defined.join(', ')}`,
      );
    }
    if (mount.mountPath === '') {
      problems.add('field.required', [...mountPath, 'mountPath'], 'a mount path is required');
    } else if (!mount.mountPath.startsWith('/')) {
      problems.add(
        'volume.invalid',
        [...mountPath, 'mountPath'],
        `${show(mount.mountPath)} must be an absolute path in the container (e.g. "/data")`,
      );
    } else {
      const first = mountPaths.get(mount.mountPath);
      if (first !== undefined) {
        problems.add(
          'volume.invalid',
          [...mountPath, 'mountPath'],
          `${show(mount.mountPath)} is already mounted by ${formatFieldPath(first)}; mount paths must be unique within a container`,
        );
      } else {
        mountPaths.set(mount.mountPath, mountPath);
      }
    }
    if (mount.subPath !== undefined && mount.subPath !== '') {
      if (mount.subPath.startsWith('/')) {
        problems.add(
          'volume.invalid',
          [...mountPath, 'subPath'],
          `${show(mount.subPath)} must be a relative path inside the volume`,
        );
      } else if (hasDotDotElement(mount.subPath)) {
        problems.add(
          'volume.invalid',
          [...mountPath, 'subPath'],
          `${show(mount.subPath)} must not contain '..'`,
        );
      }
      if (mount.subPathExpr !== undefined && mount.subPathExpr !== '') {
        problems.add(
          'volume.invalid',
          [...mountPath, 'subPathExpr'],
          'subPath and subPathExpr are mutually exclusive',
        );
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Environment

const ENV_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
] as const;
const VOLUME_ONLY_FIELD_PATHS = ['metadata.labels', 'metadata.annotations'] as const;
const SUBSCRIPTED_FIELD_PATH = /^metadata\.(labels|annotations)\['(.*)'\]$/;

const RESOURCE_FIELD_PATHS = [
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
] as const;

function checkEnv(problems: Problems, container: Container, path: FieldPath): void {
  (container.env ?? []).forEach((env, index) => {
    checkEnvVar(problems, env, [...path, 'env', index]);
  });
  (container.envFrom ?? []).forEach((source, index) => {
    const sourcePath = [...path, 'envFrom', index];
    if ((source.configMapRef === undefined) === (source.secretRef === undefined)) {
      problems.add('env.invalid', sourcePath, 'needs exactly one of configMapRef and secretRef');
    }
    if (source.prefix !== undefined && source.prefix !== '') {
      const message = validateEnvVarName(source.prefix);
      if (message !== undefined) {
        problems.add('env.invalid', [...sourcePath, 'prefix'], `${show(source.prefix)} ${message}`);
      }
    }
    const name = source.configMapRef?.name ?? source.secretRef?.name;
    const field = source.configMapRef !== undefined ? 'configMapRef' : 'secretRef';
    if (name !== undefined && name !== '') {
      checkOptionalName(problems, name, [...sourcePath, field, 'name'], validateDns1123Subdomain);
    }
  });
}

function checkEnvVar(problems: Problems, env: EnvVar, path: FieldPath): void {
  const nameMessage = validateEnvVarName(env.name);
  if (nameMessage !== undefined) {
    problems.add('env.invalid', [...path, 'name'], `${show(env.name)} ${nameMessage}`);
  }
  const from = env.valueFrom;
  if (from === undefined) return;
  if (env.value !== undefined && env.value !== '') {
    problems.add(
      'env.invalid',
      [...path, 'valueFrom'],
      'may not be set together with a non-empty value: use one or the other',
    );
  }
  const sources = (
    ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'] as const
  ).filter((field) => from[field] !== undefined);
  if (sources.length === 0) {
    problems.add(
      'env.invalid',
      [...path, 'valueFrom'],
      'needs one of fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef or fileKeyRef',
    );
  } else if (sources.length > 1) {
    problems.add(
      'env.invalid',
      [...path, 'valueFrom'],
      `may have only one source; this one has ${list(sources)}`,
    );
  }
  if (from.fieldRef !== undefined) {
    checkFieldRef(
      problems,
      from.fieldRef,
      [...path, 'valueFrom', 'fieldRef'],
      'env.invalid',
      false,
    );
  }
  if (from.resourceFieldRef !== undefined) {
    checkResourceFieldRef(
      problems,
      from.resourceFieldRef,
      [...path, 'valueFrom', 'resourceFieldRef'],
      'env.invalid',
      false,
    );
  }
  for (const field of ['configMapKeyRef', 'secretKeyRef'] as const) {
    const ref = from[field];
    if (ref === undefined) continue;
    const refPath = [...path, 'valueFrom', field];
    if (ref.name === undefined || ref.name === '') {
      problems.add(
        'field.required',
        [...refPath, 'name'],
        `the name of the ${field === 'secretKeyRef' ? 'secret' : 'config map'} is required`,
      );
    } else {
      checkOptionalName(problems, ref.name, [...refPath, 'name'], validateDns1123Subdomain);
    }
    const keyProblem = configKeyProblem(ref.key);
    if (keyProblem !== undefined) problems.add('env.invalid', [...refPath, 'key'], keyProblem);
  }
}

function checkFieldRef(
  problems: Problems,
  ref: ObjectFieldSelector,
  path: FieldPath,
  code: ProblemCode,
  inVolume: boolean,
): void {
  if (ref.apiVersion !== undefined && ref.apiVersion !== 'v1') {
    problems.add(
      code,
      [...path, 'apiVersion'],
      `${show(ref.apiVersion)} is not supported: the field path is read as "v1"`,
    );
  }
  const fieldPath = ref.fieldPath;
  const subscripted = SUBSCRIPTED_FIELD_PATH.exec(fieldPath);
  if (subscripted !== null) {
    const key = subscripted[2] ?? '';
    const keyMessage =
      subscripted[1] === 'labels' ? validateLabelKey(key) : validateLabelKey(key.toLowerCase());
    if (keyMessage !== undefined) {
      problems.add(code, [...path, 'fieldPath'], `the key ${show(key)} ${keyMessage}`);
    }
    return;
  }
  const allowed: readonly string[] = inVolume
    ? [...ENV_FIELD_PATHS, ...VOLUME_ONLY_FIELD_PATHS]
    : ENV_FIELD_PATHS;
  if (!allowed.includes(fieldPath)) {
    problems.add(
      code,
      [...path, 'fieldPath'],
      `${show(fieldPath)} is not supported: use one of ${allowed.join(', ')}, metadata.labels['<key>'] or metadata.annotations['<key>']`,
    );
  }
}

const CPU_DIVISORS = ['1m', '1'];
const BYTE_DIVISORS = [
  '1',
  '1k',
  '1M',
  '1G',
  '1T',
  '1P',
  '1E',
  '1Ki',
  '1Mi',
  '1Gi',
  '1Ti',
  '1Pi',
  '1Ei',
];

function checkResourceFieldRef(
  problems: Problems,
  ref: ResourceFieldSelector,
  path: FieldPath,
  code: ProblemCode,
  inVolume: boolean,
): void {
  if (inVolume && (ref.containerName === undefined || ref.containerName === '')) {
    problems.add(
      'field.required',
      [...path, 'containerName'],
      'the container whose resources to read is required in a volume',
    );
  }
  const resource = ref.resource;
  const known =
    (RESOURCE_FIELD_PATHS as readonly string[]).includes(resource) ||
    resource.startsWith('limits.hugepages-') ||
    resource.startsWith('requests.hugepages-');
  if (!known) {
    problems.add(
      code,
      [...path, 'resource'],
      `${show(resource)} is not supported: use one of ${RESOURCE_FIELD_PATHS.join(', ')}`,
    );
    return;
  }
  if (ref.divisor === undefined) return;
  const divisor = parseQuantity(ref.divisor);
  if (isQuantityError(divisor)) {
    problems.add('quantity.invalid', [...path, 'divisor'], divisor.message);
    return;
  }
  const allowed = resource.endsWith('.cpu') ? CPU_DIVISORS : BYTE_DIVISORS;
  const ok = allowed.some((text) => {
    const candidate = parseQuantity(text);
    return !isQuantityError(candidate) && quantityEquals(candidate, divisor);
  });
  if (!ok) {
    problems.add(
      'quantity.invalid',
      [...path, 'divisor'],
      `${show(ref.divisor)} is not supported for ${resource}: use one of ${allowed.join(', ')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Resources

const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);

function isNativeResource(name: string): boolean {
  return !name.includes('/') || name.includes('kubernetes.io/');
}

/** Extended resources (example.com/gpu) and huge pages cannot be overcommitted. */
function isOvercommitAllowed(name: string): boolean {
  return isNativeResource(name) && !name.startsWith('hugepages-');
}

function resourceNameProblem(name: string): string | undefined {
  if (!name.includes('/')) {
    if (STANDARD_CONTAINER_RESOURCES.has(name) || name.startsWith('hugepages-')) return undefined;
    return `${show(name)} is not a resource containers can ask for: use cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with a domain prefix (e.g. "example.com/gpu")`;
  }
  const keyMessage = validateLabelKey(name);
  if (keyMessage !== undefined) return `resource name ${show(name)} ${keyMessage}`;
  if (
    !isNativeResource(name) &&
    (name.startsWith('requests.') || validateLabelKey(`requests.${name}`) !== undefined)
  ) {
    return `${show(name)} is not a valid extended resource name (e.g. "example.com/gpu")`;
  }
  return undefined;
}

function checkQuantity(
  problems: Problems,
  value: string | number,
  path: FieldPath,
): Quantity | undefined {
  const parsed = parseQuantity(value);
  if (isQuantityError(parsed)) {
    problems.add('quantity.invalid', path, parsed.message);
    return undefined;
  }
  if (parsed.coefficient < 0n) {
    problems.add('quantity.invalid', path, `${show(value)} must be 0 or more`);
    return undefined;
  }
  return parsed;
}

function checkResources(
  problems: Problems,
  resources: ResourceRequirements,
  path: FieldPath,
): void {
  const parsed: Record<'limits' | 'requests', Map<string, Quantity>> = {
    limits: new Map(),
    requests: new Map(),
  };
  for (const group of ['limits', 'requests'] as const) {
    for (const [name, value] of Object.entries(resources[group] ?? {})) {
      // A request with the limit's very text (a pod's request defaults to its limit) has the
      // limit's problems, which are reported at the limit.
      if (group === 'requests' && resources.limits?.[name] === value) {
        const limit = parsed.limits.get(name);
        if (limit !== undefined) parsed.requests.set(name, limit);
        continue;
      }
      const entryPath = [...path, group, name];
      const nameProblem = resourceNameProblem(name);
      if (nameProblem !== undefined) problems.add('resource.invalid', entryPath, nameProblem);
      const quantity = checkQuantity(problems, value, entryPath);
      if (quantity === undefined) continue;
      parsed[group].set(name, quantity);
      if (!isNativeResource(name) && quantity.exponent < 0) {
        problems.add(
          'quantity.invalid',
          entryPath,
          `${show(value)} must be a whole number for the extended resource ${show(name)}`,
        );
      }
    }
  }
  for (const [name, request] of parsed.requests) {
    const limit = parsed.limits.get(name);
    const requestPath = [...path, 'requests', name];
    const requestText = formatQuantity(request);
    if (!isOvercommitAllowed(name)) {
      if (limit === undefined) {
        problems.add(
          'resource.invalid',
          requestPath,
          `${show(name)} cannot be overcommitted: set a limit equal to the request`,
        );
      } else if (!quantityEquals(request, limit)) {
        problems.add(
          'resource.invalid',
          requestPath,
          `${show(name)} cannot be overcommitted: the request (${requestText}) must equal the limit (${formatQuantity(limit)})`,
        );
      }
      continue;
    }
    if (limit !== undefined && compareQuantities(request, limit) > 0) {
      problems.add(
        'resource.invalid',
        requestPath,
        `the ${name} request (${requestText}) is more than its limit (${formatQuantity(limit)}): a request must be less than or equal to the limit`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Probes and lifecycle handlers

type ProbeField = 'livenessProbe' | 'readinessProbe' | 'startupProbe';

function checkPortNumberOrName(
  problems: Problems,
  port: IntOrString,
  path: FieldPath,
  code: ProblemCode,
): void {
  if (typeof port === 'number') {
    if (port < 1 || port > 65535) {
      problems.add(code, path, `${port} must be between 1 and 65535, or a port name`);
    }
    return;
  }
  const message = validatePortName(port);
  if (message !== undefined) {
    const hint = /^[0-9]+$/.test(port) ? ' (write a port number without quotes)' : '';
    problems.add(
      code,
      path,
      `${show(port)} must be a port number between 1 and 65535, or a port name that ${message.replace(/^must be/, 'is')}${hint}`,
    );
  }
}

function checkHttpGet(
  problems: Problems,
  action: HTTPGetAction,
  path: FieldPath,
  code: ProblemCode,
): void {
  checkPortNumberOrName(problems, action.port, [...path, 'port'], code);
  (action.httpHeaders ?? []).forEach((header, index) => {
    if (!/^[-A-Za-z0-9]+$/.test(header.name)) {
      problems.add(
        code,
        [...path, 'httpHeaders', index, 'name'],
        `${show(header.name)} must be an HTTP header name: letters, digits and '-' (e.g. "X-Probe")`,
      );
    }
  });
}

function checkProbe(problems: Problems, probe: Probe, path: FieldPath, field: ProbeField): void {
  const handlers = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter(
    (name) => probe[name] !== undefined,
  );
  if (handlers.length === 0) {
    problems.add(
      'probe.invalid',
      path,
      'needs a handler: exactly one of exec, httpGet, tcpSocket or grpc',
    );
  } else if (handlers.length > 1) {
    problems.add(
      'probe.invalid',
      path,
      `may have only one handler; this one has ${list(handlers)}`,
    );
  }
  if (probe.exec !== undefined && (probe.exec.command ?? []).length === 0) {
    problems.add('field.required', [...path, 'exec', 'command'], 'the command to run is required');
  }
  if (probe.httpGet !== undefined) {
    checkHttpGet(problems, probe.httpGet, [...path, 'httpGet'], 'probe.invalid');
  }
  if (probe.tcpSocket !== undefined) {
    checkPortNumberOrName(
      problems,
      probe.tcpSocket.port,
      [...path, 'tcpSocket', 'port'],
      'probe.invalid',
    );
  }
  if (probe.grpc !== undefined && (probe.grpc.port < 1 || probe.grpc.port > 65535)) {
    problems.add(
      'probe.invalid',
      [...path, 'grpc', 'port'],
      `${probe.grpc.port} must be between 1 and 65535`,
    );
  }
  if (probe.initialDelaySeconds !== undefined && probe.initialDelaySeconds < 0) {
    problems.add(
      'probe.invalid',
      [...path, 'initialDelaySeconds'],
      `${probe.initialDelaySeconds} must be 0 or more`,
    );
  }
  // After defaulting, 0 has become the default; what is left below 1 was negative.
  for (const name of [
    'timeoutSeconds',
    'periodSeconds',
    'successThreshold',
    'failureThreshold',
  ] as const) {
    const value = probe[name];
    if (value !== undefined && value < 1) {
      problems.add('probe.invalid', [...path, name], `${value} must be 1 or more`);
    }
  }
  if (
    field !== 'readinessProbe' &&
    probe.successThreshold !== undefined &&
    probe.successThreshold !== 1
  ) {
    problems.add(
      'probe.invalid',
      [...path, 'successThreshold'],
      `${probe.successThreshold} must be 1 for a ${field === 'livenessProbe' ? 'liveness' : 'startup'} probe`,
    );
  }
  if (probe.terminationGracePeriodSeconds !== undefined) {
    if (field === 'readinessProbe') {
      problems.add(
        'probe.invalid',
        [...path, 'terminationGracePeriodSeconds'],
        'may not be set on a readiness probe: a failing readiness probe never kills the container',
      );
    } else if (probe.terminationGracePeriodSeconds < 1) {
      problems.add(
        'probe.invalid',
        [...path, 'terminationGracePeriodSeconds'],
        `${probe.terminationGracePeriodSeconds} must be 1 or more`,
      );
    }
  }
}

function checkLifecycleHandler(
  problems: Problems,
  handler: LifecycleHandler,
  path: FieldPath,
): void {
  const handlers = (['exec', 'httpGet', 'tcpSocket', 'sleep'] as const).filter(
    (name) => handler[name] !== undefined,
  );
  if (handlers.length === 0) {
    problems.add(
      'field.invalid',
      path,
      'needs a handler: exactly one of exec, httpGet, tcpSocket or sleep',
    );
  } else if (handlers.length > 1) {
    problems.add(
      'field.invalid',
      path,
      `may have only one handler; this one has ${list(handlers)}`,
    );
  }
  if (handler.exec !== undefined && (handler.exec.command ?? []).length === 0) {
    problems.add('field.required', [...path, 'exec', 'command'], 'the command to run is required');
  }
  if (handler.httpGet !== undefined) {
    checkHttpGet(problems, handler.httpGet, [...path, 'httpGet'], 'field.invalid');
  }
  if (handler.tcpSocket !== undefined) {
    checkPortNumberOrName(
      problems,
      handler.tcpSocket.port,
      [...path, 'tcpSocket', 'port'],
      'field.invalid',
    );
  }
  if (handler.sleep !== undefined && handler.sleep.seconds < 0) {
    problems.add(
      'field.invalid',
      [...path, 'sleep', 'seconds'],
      `${handler.sleep.seconds} must be 0 or more`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Service

function checkService(problems: Problems, service: Service): void {
  const spec = service.spec;
  const type = spec.type ?? 'ClusterIP';
  const ports = spec.ports ?? [];
  const headless = spec.clusterIP === 'None';
  if (type === 'ExternalName') {
    const externalName = (spec.externalName ?? '').replace(/\.$/, '');
    if (externalName === '') {
      problems.add(
        'field.required',
        ['spec', 'externalName'],
        'a DNS name is required for type ExternalName (e.g. "db.example.com")',
      );
    } else {
      const message = validateDns1123Subdomain(externalName);
      if (message !== undefined) {
        problems.add(
          'name.invalid',
          ['spec', 'externalName'],
          `${show(spec.externalName)} ${message}`,
        );
      }
    }
    if (spec.clusterIP !== undefined && spec.clusterIP !== '') {
      problems.add('field.invalid', ['spec', 'clusterIP'], 'must be empty for type ExternalName');
    }
  } else if (ports.length === 0 && !headless) {
    problems.add(
      'field.required',
      ['spec', 'ports'],
      'at least one port is required (unless clusterIP is "None" or type is ExternalName)',
    );
  }
  if (
    spec.clusterIP !== undefined &&
    spec.clusterIP !== '' &&
    spec.clusterIP !== 'None' &&
    !isIp(spec.clusterIP)
  ) {
    problems.add(
      'field.invalid',
      ['spec', 'clusterIP'],
      `${show(spec.clusterIP)} must be "None" (headless), "" (allocate one) or an IPv4 or IPv6 address`,
    );
  }
  (spec.externalIPs ?? []).forEach((ip, index) => {
    if (!isIp(ip)) {
      problems.add(
        'field.invalid',
        ['spec', 'externalIPs', index],
        `${show(ip)} must be an IPv4 or IPv6 address`,
      );
    }
  });
  checkLabelMap(problems, spec.selector, ['spec', 'selector'], 'selector.invalid', 'selector');

  const nodePortAllowed = type === 'NodePort' || type === 'LoadBalancer';
  const names: FirstUse = new Map();
  const portKeys: FirstUse = new Map();
  const nodePorts: FirstUse = new Map();
  ports.forEach((port, index) => {
    const portPath = ['spec', 'ports', index];
    if (port.name === undefined || port.name === '') {
      if (ports.length > 1) {
        problems.add(
          'field.required',
          [...portPath, 'name'],
          'a name is required when a service has more than one port',
        );
      }
    } else {
      const message = validateDns1123Label(port.name);
      if (message !== undefined) {
        problems.add(
          'port.invalid',
          [...portPath, 'name'],
          `port name ${show(port.name)} ${message}`,
        );
      }
      const first = names.get(port.name);
      if (first !== undefined) {
        problems.add(
          'port.duplicate-name',
          [...portPath, 'name'],
          `port name ${show(port.name)} is already used by ${formatFieldPath(first)}`,
        );
      } else {
        names.set(port.name, [...portPath, 'name']);
      }
    }
    if (port.port < 1 || port.port > 65535) {
      problems.add(
        'port.invalid',
        [...portPath, 'port'],
        `${port.port} must be between 1 and 65535`,
      );
    }
    const protocol = port.protocol ?? 'TCP';
    const portKey = `${protocol}/${port.port}`;
    const firstPort = portKeys.get(portKey);
    if (firstPort !== undefined) {
      problems.add(
        'port.conflict',
        [...portPath, 'port'],
        `port ${port.port}/${protocol} is already used by ${formatFieldPath(firstPort)}`,
      );
    } else {
      portKeys.set(portKey, [...portPath, 'port']);
    }
    // A defaulted targetPort is the port itself, already checked above.
    if (port.targetPort !== undefined && port.targetPort !== port.port) {
      checkPortNumberOrName(problems, port.targetPort, [...portPath, 'targetPort'], 'port.invalid');
    }
    if (port.nodePort !== undefined && port.nodePort !== 0) {
      if (!nodePortAllowed) {
        problems.add(
          'port.invalid',
          [...portPath, 'nodePort'],
          `may not be set when type is ${show(type)}: use type NodePort or LoadBalancer`,
        );
      } else if (port.nodePort < NODE_PORT_RANGE.min || port.nodePort > NODE_PORT_RANGE.max) {
        problems.add(
          'port.invalid',
          [...portPath, 'nodePort'],
          `${port.nodePort} must be between ${NODE_PORT_RANGE.min} and ${NODE_PORT_RANGE.max}`,
        );
      } else {
        const key = `${protocol}/${port.nodePort}`;
        const first = nodePorts.get(key);
        if (first !== undefined) {
          problems.add(
            'port.conflict',
            [...portPath, 'nodePort'],
            `node port ${port.nodePort}/${protocol} is already used by ${formatFieldPath(first)}`,
          );
        } else {
          nodePorts.set(key, [...portPath, 'nodePort']);
        }
      }
    }
  });

  if (spec.externalTrafficPolicy !== undefined && !nodePortAllowed) {
    problems.add(
      'field.invalid',
      ['spec', 'externalTrafficPolicy'],
      'may only be set when type is NodePort or LoadBalancer',
    );
  }
  const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  if (
    spec.sessionAffinity === 'ClientIP' &&
    timeout !== undefined &&
    (timeout < 1 || timeout > MAX_CLIENT_IP_TIMEOUT_SECONDS)
  ) {
    problems.add(
      'field.invalid',
      ['spec', 'sessionAffinityConfig', 'clientIP', 'timeoutSeconds'],
      `${timeout} must be between 1 and ${MAX_CLIENT_IP_TIMEOUT_SECONDS} seconds`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// IP addresses (no node:net in the pure core)

const IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function isIpv6(text: string): boolean {
  let body = text;
  let groupsFromIpv4 = 0;
  const lastColon = body.lastIndexOf(':');
  if (lastColon !== -1 && body.slice(lastColon + 1).includes('.')) {
    if (!IPV4.test(body.slice(lastColon + 1))) return false;
    body = `${body.slice(0, lastColon + 1)}0`;
    groupsFromIpv4 = 1;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const groups = (part: string): string[] | undefined => {
    if (part === '') return [];
    const parts = part.split(':');
    return parts.every((p) => HEXTET.test(p)) ? parts : undefined;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return false;
  const count = head.length + tail.length + groupsFromIpv4;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** A textual IPv4 (dotted quad, no leading zeros) or IPv6 address. */
export function isIp(text: string): boolean {
  return IPV4.test(text) || (text.includes(':') && isIpv6(text));
}
