/**
 * Quiet diffs (pure): `normalize` gives the comparable form of an object (user's fields plus
 * API defaults, no status or server-made fields, sorted keys, canonical quantities, allocated
 * fields apart); `compareObjects` lists the fields that differ, quantities by value, and
 * `describeChanges` puts them in words for a plan's reasons.
 */
export {
  compareObjects,
  describeChanges,
  type FieldChange,
  formatFieldChange,
  formatValue,
} from './compare.js';
export {
  type NormalizedObject,
  normalize,
  normalizeUncached,
  SERVER_METADATA_FIELDS,
} from './normalize.js';
