/**
 * `sameJson(a, b)` is `JSON.stringify(a) === JSON.stringify(b)` for plain JSON-like values
 * (no toJSON, no bigint), without building the strings: key order counts, properties that
 * JSON leaves out (undefined, functions, symbols) are skipped, and in arrays they, like
 * non-finite numbers, read as null.
 */

function isOmitted(value: unknown): boolean {
  const type = typeof value;
  return type === 'undefined' || type === 'function' || type === 'symbol';
}

function jsonKeys(object: object): string[] {
  const keys: string[] = [];
  for (const key of Object.keys(object)) {
    if (!isOmitted((object as Record<string, unknown>)[key])) keys.push(key);
  }
  return keys;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') {
    // -0 and 0 print alike; so do all non-finite numbers (as null).
    return a === b || (!Number.isFinite(a) && !Number.isFinite(b));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    // null against a non-finite number prints alike.
    if (a === null && typeof b === 'number') return !Number.isFinite(b);
    if (b === null && typeof a === 'number') return !Number.isFinite(a);
    return false;
  }
  const aArray = Array.isArray(a);
  if (aArray !== Array.isArray(b)) return false;
  if (aArray) {
    const left = a as readonly unknown[];
    const right = b as readonly unknown[];
    if (left.length !== right.length) return false;
    for (let i = 0; i < left.length; i += 1) {
      const x = isOmitted(left[i]) ? null : left[i];
      const y = isOmitted(right[i]) ? null : right[i];
      if (!sameValue(x, y)) return false;
    }
    return true;
  }
  const leftKeys = jsonKeys(a);
  const rightKeys = jsonKeys(b);
  if (leftKeys.length !== rightKeys.length) return false;
  for (let i = 0; i < leftKeys.length; i += 1) {
    const key = leftKeys[i] as string;
    if (key !== rightKeys[i]) return false;
    if (!sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) {
      return false;
    }
  }
  return true;
}

export function sameJson(a: unknown, b: unknown): boolean {
  if (isOmitted(a) || isOmitted(b)) return isOmitted(a) && isOmitted(b);
  return sameValue(a, b);
}
