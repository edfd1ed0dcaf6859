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

/** A value in a reason: strings as written, others as JSON, absent as `(unset)`, long cut. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '(unset)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
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
