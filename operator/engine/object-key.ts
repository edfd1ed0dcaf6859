/**
 * `refKey(refOf(kind, object))`, remembered per object: a pass meets the same loaded and stored
 * objects as the pass before, and would otherwise build every key again several times. Objects
 * are treated as immutable, as the planner treats them (its normalize cache does the same).
 */

import { refKey, refOf } from '../plan/plan.js';
import type { PlannedKind, PlannedObject } from '../plan/types.js';

const keys = new WeakMap<PlannedObject, { readonly kind: PlannedKind; readonly key: string }>();

export function objectKey(kind: PlannedKind, object: PlannedObject): string {
  const known = keys.get(object);
  if (known !== undefined && known.kind === kind) return known.key;
  const key = refKey(refOf(kind, object));
  keys.set(object, { kind, key });
  return key;
}
