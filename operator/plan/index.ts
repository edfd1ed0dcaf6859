/**
 * The planner (pure): `planChanges(desired, live, inventory, options)` gives per object create,
 * update, replace, delete or unchanged with the reason, in the order a sync carries them out,
 * or a refusal when it would delete every object of the source. Types in types.ts.
 */
export {
  DEFAULT_PLAN_OPTIONS,
  type DesiredObject,
  isPlanRefusal,
  type LiveObject,
  PRUNE_ANNOTATION,
  PRUNE_DISABLED,
  planChanges,
  refKey,
  refOf,
} from './plan.js';
export type * from './types.js';
