/**
 * The planner: desired objects from git, live objects and the source's inventory in, a plan
 * (or a refusal) out. Pure. Objects are compared by canonical JSON first; the field-level
 * reason is worked out only for objects whose keys differ, so an in-sync source of thousands
 * of objects costs one normalize and one string comparison per object.
 */
import { compareObjects, describeChanges, type FieldChange } from '../diff/compare.js';
import { type NormalizedObject, normalize } from '../diff/normalize.js';
import { DEFAULT_NAMESPACE } from '../manifests/defaults.js';
import type { Origin } from '../model/problem.js';
import type {
  Change,
  ChangeAction,
  ObjectRef,
  Plan,
  PlanConflict,
  PlannedKind,
  PlannedObject,
  PlanOptions,
  PlanRefusal,
  PlanSummary,
} from './types.js';

/** An object git wants (a loaded ManifestObject fits). */
export interface DesiredObject {
  readonly kind: PlannedKind;
  readonly object: PlannedObject;
  readonly origin?: Origin;
}

/** An object as it is live. */
export interface LiveObject {
  readonly kind: PlannedKind;
  readonly object: PlannedObject;
}

/** The annotation that keeps a live object when it leaves git. */
export const PRUNE_ANNOTATION = 'berth.io/prune';
export const PRUNE_DISABLED = 'disabled';

export const DEFAULT_PLAN_OPTIONS: PlanOptions = { prune: true, allowEmpty: false };

/** `Service/default/web`: the inventory's key for an object. */
export function refKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function refOf(kind: PlannedKind, object: PlannedObject): ObjectRef {
  const namespace = object.metadata.namespace;
  return {
    kind,
    namespace: namespace === undefined || namespace === '' ? DEFAULT_NAMESPACE : namespace,
    name: object.metadata.name ?? '',
  };
}

export function isPlanRefusal(result: Plan | PlanRefusal): result is PlanRefusal {
  return 'refused' in result;
}

/**
 * What a sync would do. `inventory` holds the `refKey`s of what berth created for this source:
 * only those are ever updated, replaced or deleted. Refuses a plan that deletes every live
 * object of the source and leaves it none (git holds nothing for it) unless `allowEmpty`.
 */
export function planChanges(
  desired: readonly DesiredObject[],
  live: readonly LiveObject[],
  inventory: ReadonlySet<string>,
  options: Partial<PlanOptions> = {},
): Plan | PlanRefusal {
  const { prune, allowEmpty } = { ...DEFAULT_PLAN_OPTIONS, ...options };
  const liveByKey = new Map<string, LiveObject>();
  for (const object of live) liveByKey.set(refKey(refOf(object.kind, object.object)), object);

  const changes: Change[] = [];
  const conflicts: PlanConflict[] = [];
  const desiredKeys = new Set<string>();
  for (const want of desired) {
    const ref = refOf(want.kind, want.object);
    const key = refKey(ref);
    const origin = want.origin;
    if (desiredKeys.has(key)) {
      // Validation refuses duplicates; a plan still never acts twice on one object.
      conflicts.push({
        ref,
        reason: `${key} is defined more than once; the first one counts`,
        origin,
      });
      continue;
    }
    desiredKeys.add(key);
    const have = liveByKey.get(key);
    const wanted = normalize(want.kind, want.object);
    if (have === undefined) {
      const reason = inventory.has(key) ? 'missing live (removed outside berth)' : 'new in git';
      changes.push({ action: 'create', ref, reason, desired: wanted.object, origin });
      continue;
    }
    if (!inventory.has(key)) {
      const reason = `${key} exists and was not created by berth for this source; left alone`;
      conflicts.push({ ref, reason, origin });
      continue;
    }
    changes.push(compareOne(ref, wanted, normalize(have.kind, have.object), origin));
  }

  let liveOfSource = 0;
  const deletions: Change[] = [];
  for (const [key, have] of liveByKey) {
    if (!inventory.has(key)) continue;
    liveOfSource += 1;
    if (desiredKeys.has(key)) continue;
    const ref = refOf(have.kind, have.object);
    const shown = normalize(have.kind, have.object).object;
    const annotations = have.object.metadata.annotations;
    if (annotations?.[PRUNE_ANNOTATION] === PRUNE_DISABLED) {
      const reason = `left git; kept by ${PRUNE_ANNOTATION}: ${PRUNE_DISABLED}`;
      changes.push({ action: 'unchanged', ref, reason, live: shown });
    } else if (!prune) {
      changes.push({
        action: 'unchanged',
        ref,
        reason: 'left git; kept (prune is off)',
        live: shown,
      });
    } else {
      deletions.push({ action: 'delete', ref, reason: 'left git', live: shown });
    }
  }

  // The guard is for a source that came out empty (a wrong path or ref, a bad merge): nothing
  // of the source would be left. Replacing every object by new ones is an ordinary change.
  const leavesNothing = deletions.length === liveOfSource && desired.length === 0;
  if (deletions.length > 0 && leavesNothing && !allowEmpty) {
    return {
      refused: true,
      code: 'PLAN_DELETES_EVERYTHING',
      message: `refusing a plan that deletes all ${liveOfSource} objects of the source (is the path or ref right?); allow it with --allow-empty`,
      deletions: deletions.map((change) => change.ref),
    };
  }

  changes.sort(compareApplyOrder);
  deletions.sort(compareDeleteOrder);
  const ordered = [...changes, ...deletions];
  return { changes: ordered, summary: summarize(ordered), conflicts };
}

/** One object on both sides: unchanged, update or replace, with the fields in the reason. */
function compareOne(
  ref: ObjectRef,
  wanted: NormalizedObject,
  have: NormalizedObject,
  origin: Origin | undefined,
): Change {
  const allocated = allocatedChanges(wanted, have);
  const fields: FieldChange[] =
    wanted.key === have.key
      ? allocated
      : [...compareObjects(have.object, wanted.object), ...allocated];
  const base = { ref, desired: wanted.object, live: have.object, origin };
  if (fields.length === 0) return { action: 'unchanged', reason: 'in sync', ...base };
  const action = changeAction(ref.kind, fields);
  const described = describeChanges(fields);
  const reason = action === 'replace' ? `${described} (${replaceWhy(ref.kind)})` : described;
  return { action, reason, ...base };
}

/** Allocated fields count only when the user wrote them. */
function allocatedChanges(wanted: NormalizedObject, have: NormalizedObject): FieldChange[] {
  const out: FieldChange[] = [];
  for (const [path, value] of Object.entries(wanted.allocated)) {
    const current = have.allocated[path];
    if (JSON.stringify(current) !== JSON.stringify(value)) {
      out.push({ path: parsePath(path), before: current, after: value });
    }
  }
  return out;
}

/** `spec.ports[0].nodePort` → ['spec', 'ports', 0, 'nodePort']. */
function parsePath(text: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of text.split('.')) {
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) {
      out.push(part);
      continue;
    }
    if (match[1] !== undefined && match[1] !== '') out.push(match[1]);
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

function changeAction(kind: PlannedKind, fields: readonly FieldChange[]): ChangeAction {
  switch (kind) {
    case 'Pod':
      // A pod's spec cannot change after creation; its labels and annotations can.
      return fields.some((field) => field.path[0] === 'spec') ? 'replace' : 'update';
    case 'Service':
      // Kubernetes refuses to change a service's cluster IPs in place.
      return fields.some(
        (field) =>
          field.path[0] === 'spec' &&
          (field.path[1] === 'clusterIP' || field.path[1] === 'clusterIPs'),
      )
        ? 'replace'
        : 'update';
    case 'ReplicationController':
      return 'update';
    default: {
      const unreachable: never = kind;
      return unreachable;
    }
  }
}

function replaceWhy(kind: PlannedKind): string {
  return kind === 'Pod'
    ? 'a pod spec cannot change in place: delete and create'
    : 'a service cluster IP cannot change in place: delete and create';
}

const APPLY_RANK: Readonly<Record<PlannedKind, number>> = {
  Service: 0,
  ReplicationController: 1,
  Pod: 2,
};
const DELETE_RANK: Readonly<Record<PlannedKind, number>> = {
  ReplicationController: 0,
  Pod: 1,
  Service: 2,
};

function compareRefs(a: ObjectRef, b: ObjectRef): number {
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return 0;
}

/** Services first (their environment variables reach the pods made after), then RCs and pods. */
function compareApplyOrder(a: Change, b: Change): number {
  return APPLY_RANK[a.ref.kind] - APPLY_RANK[b.ref.kind] || compareRefs(a.ref, b.ref);
}

/** Controllers before their pods (so they are not recreated), services last. */
function compareDeleteOrder(a: Change, b: Change): number {
  return DELETE_RANK[a.ref.kind] - DELETE_RANK[b.ref.kind] || compareRefs(a.ref, b.ref);
}

function summarize(changes: readonly Change[]): PlanSummary {
  const counts = { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0 };
  for (const change of changes) counts[change.action] += 1;
  return counts;
}
