/**
 * Field-level differences between two normalized objects, for the reason a plan gives. Only
 * called for objects whose canonical keys differ, so it may take its time. Quantities compare
 * by value here too: `1Gi` and `1073741824` keep their own text after normalizing but are equal.
 */
import { type FieldPath, formatFieldPath } from '../model/problem.js';
import { isQuantityError, parseQuantity, quantityEquals } from '../model/quantity.js';
import { isPlainObject, isQuantityField } from './normalize.js';

export interface FieldChange {
  readonly path: FieldPath;
  /** The live value; undefined when the field is new. */
  readonly before: unknown;
  /** The desired value; undefined when the field goes away. */
  readonly after: unknown;
}

/** Every leaf that differs between `before` (live) and `after` (desired), in key order. */
export function compareObjects(before: unknown, after: unknown): FieldChange[] {
  const out: FieldChange[] = [];
  walk(before, after, [], out);
  return out;
}

function walk(before: unknown, after: unknown, path: (string | number)[], out: FieldChange[]) {
  if (before === after) return;
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of [...keys].sort()) {
      path.push(key);
      walk(before[key], after[key], path, out);
      path.pop();
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (walkNamed(before, after, path, out)) return;
    const length = Math.max(before.length, after.length);
    for (let i = 0; i < length; i += 1) {
      path.push(i);
      walk(before[i], after[i], path, out);
      path.pop();
    }
    return;
  }
  if (isQuantityField(path[path.length - 2], path[path.length - 1] ?? '')) {
    if (sameQuantity(before, after)) return;
  }
  out.push({ path: [...path], before, after });
}

/** Item names when every item is an object with a distinct string `name`, else undefined. */
function namesOf(list: readonly unknown[]): string[] | undefined {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    if (!isPlainObject(item) || typeof item.name !== 'string' || seen.has(item.name)) {
      return undefined;
    }
    seen.add(item.name);
    names.push(item.name);
  }
  return names;
}

/**
 * Lists of named items (containers, env, ports, volumes, mounts) are matched by name, as
 * Kubernetes merges them: a sidecar added first is one addition, not every container changed.
 * Paths carry the desired index (the live one for a removed item). Returns false when the
 * lists are not both named.
 */
function walkNamed(
  before: readonly unknown[],
  after: readonly unknown[],
  path: (string | number)[],
  out: FieldChange[],
): boolean {
  const beforeNames = namesOf(before);
  const afterNames = namesOf(after);
  if (beforeNames === undefined || afterNames === undefined) return false;
  if (beforeNames.length === 0 && afterNames.length === 0) return true;
  const beforeIndex = new Map(beforeNames.map((name, index) => [name, index]));
  const afterIndex = new Map(afterNames.map((name, index) => [name, index]));
  // Items on both sides in another order: the order itself is a change (the first container
  // is the default one; env entries may refer to earlier ones).
  const keptBefore = beforeNames.filter((name) => afterIndex.has(name));
  const keptAfter = afterNames.filter((name) => beforeIndex.has(name));
  if (keptBefore.some((name, index) => keptAfter[index] !== name)) {
    out.push({ path: [...path], before: keptBefore, after: keptAfter });
  }
  for (let i = 0; i < after.length; i += 1) {
    const j = beforeIndex.get(afterNames[i] ?? '');
    path.push(i);
    if (j === undefined) out.push({ path: [...path], before: undefined, after: after[i] });
    else walk(before[j], after[i], path, out);
    path.pop();
  }
  for (let j = 0; j < before.length; j += 1) {
    if (afterIndex.has(beforeNames[j] ?? '')) continue;
    out.push({ path: [...path, j], before: before[j], after: undefined });
  }
  return true;
}

function sameQuantity(a: unknown, b: unknown): boolean {
  if (
    (typeof a !== 'string' && typeof a !== 'number') ||
    (typeof b !== 'string' && typeof b !== 'number')
  ) {
    return false;
  }
  const left = parseQuantity(a);
  const right = parseQuantity(b);
  return !isQuantityError(left) && !isQuantityError(right) && quantityEquals(left, right);
}

const MAX_VALUE_CHARS = 60;

/**
 * A value in a reason: strings as written, others as JSON, absent as `(unset)`, long cut; a
 * named item leads with its name (`side {"image":"busybox"}`) so the cut never hides it.
 */
export function formatValue(value: unknown): string {
  if (value === undefined) return '(unset)';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (isPlainObject(value) && typeof value.name === 'string') {
    const { name, ...rest } = value;
    text = `${name} ${JSON.stringify(rest)}`;
  } else text = JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/** `spec.template.spec.containers[0].image: nginx:1.24 → nginx:1.25`. */
export function formatFieldChange(change: FieldChange): string {
  return `${formatFieldPath(change.path)}: ${formatValue(change.before)} → ${formatValue(change.after)}`;
}

/** At most `limit` changes in words, then how many more. */
export function describeChanges(changes: readonly FieldChange[], limit = 5): string {
  const shown = changes.slice(0, limit).map(formatFieldChange);
  if (changes.length > limit) shown.push(`and ${changes.length - limit} more`);
  return shown.join('; ');
}
