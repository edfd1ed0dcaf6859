/**
 * A container's environment and command line as the kubelet computes them, pure: the service
 * variables first (the pod's `berth.io/service-env` annotation, then any extra variables),
 * then the container's `env` in order, each value `$(VAR)`-expanded against the variables
 * defined before it; `valueFrom` resolved from the pod itself. Command and args are expanded
 * against the finished environment.
 */
import type { Container, EnvVar, Pod } from '../model/generated/types.js';
import { isQuantityError, parseQuantity, toMillis } from '../model/quantity.js';
import { SERVICE_ENV_ANNOTATION } from '../services/types.js';

/** What the pod's spec cannot say about itself: where it runs. */
export interface PodEnvContext {
  readonly podIP: string;
  readonly hostIP: string;
  readonly nodeName: string;
  /** The node's capacity, the value of a resourceFieldRef whose container has no limit. */
  readonly nodeCapacity?: { readonly cpu: number; readonly memoryBytes: number };
}

/**
 * The annotation the operator stamps on every pod it makes: JSON `[{"name", "value"}]`, the
 * service environment variables (Kubernetes' rules) of the services that existed then.
 */
export { SERVICE_ENV_ANNOTATION };

/**
 * The variables of the pod's SERVICE_ENV_ANNOTATION, in order. A pod without it has none; a
 * malformed one (not JSON, not a list of string name/value pairs) gives none and a line to
 * `log`: the pod still runs, without service variables, as one made before the services.
 */
export function serviceEnvOf(
  pod: Pod,
  log?: (line: string) => void,
): ReadonlyArray<readonly [name: string, value: string]> {
  const text = pod.metadata.annotations?.[SERVICE_ENV_ANNOTATION];
  if (text === undefined) return [];
  const where = `pod ${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    log?.(
      `${where}: annotation ${SERVICE_ENV_ANNOTATION} is not JSON (${(error as Error).message}); no service variables`,
    );
    return [];
  }
  if (!Array.isArray(parsed)) {
    log?.(`${where}: annotation ${SERVICE_ENV_ANNOTATION} is not a list; no service variables`);
    return [];
  }
  const env: [string, string][] = [];
  for (const item of parsed as unknown[]) {
    const entry = item as { name?: unknown; value?: unknown } | null;
    if (
      typeof entry !== 'object' ||
      entry === null ||
      typeof entry.name !== 'string' ||
      entry.name === '' ||
      typeof entry.value !== 'string'
    ) {
      log?.(
        `${where}: annotation ${SERVICE_ENV_ANNOTATION} holds an entry that is not {name, value} strings; no service variables`,
      );
      return [];
    }
    env.push([entry.name, entry.value]);
  }
  return env;
}

export type EnvResult =
  | { readonly ok: true; readonly env: ReadonlyArray<readonly [name: string, value: string]> }
  /** Kubernetes reports these as CreateContainerConfigError: the pod cannot start as written. */
  | { readonly ok: false; readonly message: string };

/**
 * Expands `$(NAME)` references as Kubernetes does (third_party/forked/golang/expansion):
 * a defined name is replaced by its value, an undefined one is kept as written, `$$` is an
 * escaped `$`, and a `$` followed by anything else (or an unclosed `$(`) stays literal.
 */
export function expandVariables(
  input: string,
  lookup: (name: string) => string | undefined,
): string {
  let output = '';
  let index = 0;
  while (index < input.length) {
    const char = input[index];
    if (char !== '$' || index + 1 >= input.length) {
      output += char;
      index += 1;
      continue;
    }
    const next = input[index + 1];
    if (next === '$') {
      output += '$';
      index += 2;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', index + 2);
      if (close < 0) {
        output += input.slice(index);
        break;
      }
      const name = input.slice(index + 2, close);
      const value = name === '' ? undefined : lookup(name);
      output += value ?? `$(${name})`;
      index = close + 1;
      continue;
    }
    output += '$';
    index += 1;
  }
  return output;
}

/**
 * The container's environment, in the order Docker should receive it: the pod's service
 * variables (SERVICE_ENV_ANNOTATION), `extraEnv`, then the container's own `env`, which wins on
 * a name they share and may refer to any of them with `$(VAR)`. `log` hears of a malformed
 * annotation (ignored).
 */
export function resolveContainerEnv(
  pod: Pod,
  container: Container,
  context: PodEnvContext,
  extraEnv: Readonly<Record<string, string>> = {},
  log?: (line: string) => void,
): EnvResult {
  const values = new Map<string, string>();
  for (const [name, value] of serviceEnvOf(pod, log)) values.set(name, value);
  for (const [name, value] of Object.entries(extraEnv)) values.set(name, value);
  // envFrom comes before env in Kubernetes; berth has no ConfigMap or Secret to read, so
  // only optional sources (which Kubernetes skips when missing) are acceptable.
  for (const source of container.envFrom ?? []) {
    const reference = source.configMapRef ?? source.secretRef;
    if (reference?.optional === true) continue;
    const kind = source.configMapRef !== undefined ? 'configMapRef' : 'secretRef';
    return {
      ok: false,
      message: `envFrom ${kind} ${reference?.name ?? ''} of container ${container.name} is not supported (berth has no ConfigMap or Secret objects)`,
    };
  }
  for (const variable of container.env ?? []) {
    const resolved = resolveEnvVar(pod, container, variable, context, values);
    if (!resolved.ok) return resolved;
    // An optional reference to a missing source leaves the variable unset, as in Kubernetes.
    if (resolved.value === undefined) continue;
    // Re-setting a name moves it nowhere: Map keeps first insertion order, as Kubernetes'
    // list keeps the first position of a repeated name and the last value.
    values.set(variable.name, resolved.value);
  }
  return { ok: true, env: [...values.entries()] };
}

/** value undefined: the variable is left out (an optional reference to nothing). */
type ValueResult = { ok: true; value: string | undefined } | { ok: false; message: string };

function resolveEnvVar(
  pod: Pod,
  container: Container,
  variable: EnvVar,
  context: PodEnvContext,
  defined: ReadonlyMap<string, string>,
): ValueResult {
  const source = variable.valueFrom;
  if (source === undefined) {
    return { ok: true, value: expandVariables(variable.value ?? '', (name) => defined.get(name)) };
  }
  const where = `env ${variable.name} of container ${container.name}`;
  if (source.fieldRef !== undefined) {
    const value = podFieldValue(pod, source.fieldRef.fieldPath, context);
    if (value === undefined) {
      return {
        ok: false,
        message: `${where}: fieldRef ${source.fieldRef.fieldPath} is not a field berth can provide (metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.podIP, status.podIPs, status.hostIP, status.hostIPs)`,
      };
    }
    return { ok: true, value };
  }
  if (source.resourceFieldRef !== undefined) {
    const ref = source.resourceFieldRef;
    const target =
      ref.containerName === undefined || ref.containerName === ''
        ? container
        : pod.spec.containers.find((candidate) => candidate.name === ref.containerName);
    if (target === undefined) {
      return {
        ok: false,
        message: `${where}: resourceFieldRef names no container ${ref.containerName}`,
      };
    }
    return resourceFieldValue(target, ref.resource, ref.divisor, context, where);
  }
  if (source.configMapKeyRef?.optional === true || source.secretKeyRef?.optional === true) {
    return { ok: true, value: undefined };
  }
  if (source.configMapKeyRef !== undefined) {
    return {
      ok: false,
      message: `${where}: configMapKeyRef is not supported (berth has no ConfigMap objects)`,
    };
  }
  if (source.secretKeyRef !== undefined) {
    return {
      ok: false,
      message: `${where}: secretKeyRef is not supported (berth has no Secret objects)`,
    };
  }
  if (source.fileKeyRef !== undefined) {
    return { ok: false, message: `${where}: fileKeyRef is not supported by berth` };
  }
  return { ok: false, message: `${where}: valueFrom names no source` };
}

const LABEL_OR_ANNOTATION = /^metadata\.(labels|annotations)\['(.+)'\]$/;

/** The value of a downward-API field path, or undefined for a path berth does not know. */
export function podFieldValue(
  pod: Pod,
  fieldPath: string,
  context: PodEnvContext,
): string | undefined {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return context.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return context.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return context.hostIP;
  }
  const match = LABEL_OR_ANNOTATION.exec(fieldPath);
  if (match === null) return undefined;
  const map = match[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
  return map?.[match[2] ?? ''] ?? '';
}

function resourceFieldValue(
  container: Container,
  resource: string,
  divisorText: string | number | undefined,
  context: PodEnvContext,
  where: string,
): ValueResult {
  const [kind, name] = resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || (name !== 'cpu' && name !== 'memory')) {
    return {
      ok: false,
      message: `${where}: resourceFieldRef ${resource} is not supported (limits.cpu, limits.memory, requests.cpu, requests.memory)`,
    };
  }
  const divisor = parseQuantity(divisorText ?? '1');
  if (isQuantityError(divisor) || toMillis(divisor) <= 0) {
    return {
      ok: false,
      message: `${where}: resourceFieldRef divisor ${String(divisorText)} is not a positive quantity`,
    };
  }
  const written =
    container.resources?.[kind]?.[name] ??
    (kind === 'requests' ? container.resources?.limits?.[name] : undefined);
  let millis: number;
  if (written !== undefined) {
    const quantity = parseQuantity(written);
    if (isQuantityError(quantity)) return { ok: false, message: `${where}: ${quantity.message}` };
    millis = toMillis(quantity);
  } else if (kind === 'requests') {
    millis = 0;
  } else if (context.nodeCapacity !== undefined) {
    // Kubernetes falls back to the node's allocatable when the container has no limit.
    millis =
      name === 'cpu' ? context.nodeCapacity.cpu * 1000 : context.nodeCapacity.memoryBytes * 1000;
  } else {
    return {
      ok: false,
      message: `${where}: container has no ${resource} and the node's capacity is unknown`,
    };
  }
  // Rounded up, as the kubelet does, so a CPU limit of 500m with divisor 1 reads 1.
  return { ok: true, value: String(Math.ceil(millis / toMillis(divisor))) };
}

/**
 * Command and args with `$(VAR)` expanded against the container's environment. `command`
 * replaces the image's ENTRYPOINT (and with it the image's CMD); `args` alone replace CMD.
 */
export function resolveCommandLine(
  container: Container,
  env: ReadonlyArray<readonly [string, string]>,
): { entrypoint: string[] | undefined; cmd: string[] | undefined } {
  const values = new Map(env);
  const expand = (list: readonly string[] | undefined) =>
    list === undefined || list.length === 0
      ? undefined
      : list.map((item) => expandVariables(item, (name) => values.get(name)));
  return { entrypoint: expand(container.command), cmd: expand(container.args) };
}
