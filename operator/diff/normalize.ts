/**
 * The comparable form of an object: what the user wrote plus the API server's defaults, minus
 * status and the fields the server makes, with map keys sorted and quantities in their
 * canonical text. Desired and live objects both go through here, so a freshly applied object
 * compares equal to its source, every time.
 *
 * Fields the system allocates (a Service's cluster IPs and node ports, a Pod's node) are kept
 * apart in `allocated`: they count only when the user wrote them, which only the planner knows
 * (it has both sides).
 */
import { applyDefaults } from '../manifests/defaults.js';
import type { ManifestObject } from '../manifests/types.js';
import type { Origin } from '../model/problem.js';
import { formatQuantity, isQuantityError, parseQuantity } from '../model/quantity.js';
import type { PlannedKind, PlannedObject } from '../plan/types.js';

/** Metadata the server writes; never part of a comparison. */
export const SERVER_METADATA_FIELDS: ReadonlySet<string> = new Set([
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'generation',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
]);

/** Service spec fields the server allocates when the user leaves them out. */
const SERVICE_ALLOCATED_FIELDS = [
  'clusterIP',
  'clusterIPs',
  'ipFamilies',
  'ipFamilyPolicy',
  'healthCheckNodePort',
] as const;

// Maps whose values are quantities, and fields that hold one quantity.
const QUANTITY_MAPS: ReadonlySet<string> = new Set(['limits', 'requests', 'overhead']);
const QUANTITY_FIELDS: ReadonlySet<string> = new Set(['sizeLimit', 'divisor']);
// Maps of plain strings: a key named like a quantity field there is just a key.
const STRING_MAPS: ReadonlySet<string> = new Set([
  'labels',
  'annotations',
  'nodeSelector',
  'selector',
]);
// Fields where an empty object means the same as none: Kubernetes omits empty maps, and renders
// an unset `resources` or `securityContext` as `{}` (an empty `emptyDir` is meaningful: kept).
const OMIT_EMPTY_MAPS: ReadonlySet<string> = new Set([
  'labels',
  'annotations',
  'nodeSelector',
  'selector',
  'limits',
  'requests',
  'overhead',
  'resources',
  'securityContext',
]);

export interface NormalizedObject {
  readonly kind: PlannedKind;
  /** Defaulted, stripped, keys sorted; allocated fields removed (they are in `allocated`). */
  readonly object: PlannedObject;
  /** Server-allocatable fields present on the object, by path (`spec.ports[0].nodePort`). */
  readonly allocated: Readonly<Record<string, unknown>>;
  /** Canonical JSON of `object`: equal keys mean equal objects. */
  readonly key: string;
}

const NO_ORIGIN: Origin = { file: '', line: 0, column: 0 };

/** True for a JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A quantity field: a value of a limits / requests / overhead map, a sizeLimit or a divisor. */
export function isQuantityField(
  parentKey: string | number | undefined,
  key: string | number,
): boolean {
  if (typeof parentKey === 'string' && STRING_MAPS.has(parentKey)) return false;
  return (
    (typeof parentKey === 'string' && QUANTITY_MAPS.has(parentKey)) ||
    (typeof key === 'string' && QUANTITY_FIELDS.has(key))
  );
}

// Normalized forms by object identity: loaded manifests (ManifestCache) and stored live objects
// are reused between syncs, so a sync of an unchanged source normalizes nothing twice. Objects
// handed to the planner are treated as immutable (the loader and the store never mutate them).
const normalizedCache = new WeakMap<PlannedObject, NormalizedObject>();

/**
 * The comparable form of one object (see the module comment). Pure; the input is not changed
 * and must not change afterwards: the result is remembered by object identity.
 */
export function normalize(kind: PlannedKind, object: PlannedObject): NormalizedObject {
  const cached = normalizedCache.get(object);
  if (cached !== undefined && cached.kind === kind) return cached;
  const normalized = normalizeUncached(kind, object);
  normalizedCache.set(object, normalized);
  return normalized;
}

/** `normalize` without the identity cache, for callers that mutate their objects. */
export function normalizeUncached(kind: PlannedKind, object: PlannedObject): NormalizedObject {
  // Status is dropped before defaulting, which copies the whole object.
  const { status: _status, ...withoutStatus } = object as PlannedObject & { status?: unknown };
  const defaulted = applyDefaults(asManifestObject(kind, withoutStatus as PlannedObject)).object;
  const allocated: Record<string, unknown> = {};
  const root = defaulted as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { apiVersion: 'v1', kind };
  for (const key of Object.keys(root).sort()) {
    if (key === 'status' || key === 'apiVersion' || key === 'kind') continue;
    const value = root[key];
    if (key === 'metadata' && isPlainObject(value)) {
      const meta = canonical(value, undefined, 'metadata');
      if (isPlainObject(meta)) {
        for (const field of SERVER_METADATA_FIELDS) delete meta[field];
      }
      out[key] = meta;
    } else if (key === 'spec' && isPlainObject(value)) {
      out[key] = canonical(takeAllocated(kind, value, allocated), undefined, 'spec');
    } else {
      const copy = canonical(value, undefined, key);
      if (copy !== undefined) out[key] = copy;
    }
  }
  // Re-sort: apiVersion and kind were placed first.
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(out).sort()) sorted[key] = out[key];
  return {
    kind,
    object: sorted as unknown as PlannedObject,
    allocated,
    key: JSON.stringify(sorted),
  };
}

function asManifestObject(kind: PlannedKind, object: PlannedObject): ManifestObject {
  // The caller pairs kind and object; the generated types cannot tie the two, hence the cast.
  return { kind, object, origin: NO_ORIGIN, locate: () => NO_ORIGIN } as ManifestObject;
}

/** A shallow copy of the spec without its allocatable fields, which go to `allocated`. */
function takeAllocated(
  kind: PlannedKind,
  spec: Record<string, unknown>,
  allocated: Record<string, unknown>,
): Record<string, unknown> {
  if (kind === 'Pod') {
    if (spec.nodeName === undefined) return spec;
    const { nodeName, ...rest } = spec;
    if (nodeName !== '') allocated['spec.nodeName'] = nodeName;
    return rest;
  }
  if (kind !== 'Service') return spec;
  const rest: Record<string, unknown> = { ...spec };
  for (const field of SERVICE_ALLOCATED_FIELDS) {
    const value = rest[field];
    delete rest[field];
    if (value !== undefined && value !== '' && !(Array.isArray(value) && value.length === 0)) {
      allocated[`spec.${field}`] = value;
    }
  }
  if (Array.isArray(rest.ports)) {
    rest.ports = rest.ports.map((port: unknown, index: number) => {
      if (!isPlainObject(port) || port.nodePort === undefined) return port;
      const { nodePort, ...others } = port;
      if (nodePort !== 0) allocated[`spec.ports[${index}].nodePort`] = nodePort;
      return others;
    });
  }
  return rest;
}

/**
 * A deep copy with sorted keys, nulls and empty lists dropped, empty string maps dropped and
 * quantities in canonical text. Returns undefined for a value that should not appear.
 */
function canonical(
  value: unknown,
  parentKey: string | number | undefined,
  key: string | number,
): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    const items: unknown[] = [];
    for (let i = 0; i < value.length; i += 1) {
      // Items keep their positions: a null item stays null rather than shifting the rest.
      items.push(canonical(value[i], key, i) ?? null);
    }
    return items;
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    const out: Record<string, unknown> = {};
    let count = 0;
    for (const child of keys) {
      const copy = canonical(value[child], key, child);
      if (copy === undefined) continue;
      out[child] = copy;
      count += 1;
    }
    if (count === 0 && typeof key === 'string' && OMIT_EMPTY_MAPS.has(key)) return undefined;
    return out;
  }
  if (isQuantityField(parentKey, key) && (typeof value === 'string' || typeof value === 'number')) {
    const parsed = parseQuantity(value);
    return isQuantityError(parsed) ? value : formatQuantity(parsed);
  }
  return value;
}
