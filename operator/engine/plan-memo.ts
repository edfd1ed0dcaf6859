/**
 * `planChanges` that answers a call with the inputs of an earlier one with that call's plan
 * again: per desired list (by identity), the last live objects (each by identity), inventory
 * and options it was planned with. A reconcile pass in which git and the live objects did not
 * change plans nothing. Pure; objects handed in must not change afterwards, as the planner's
 * normalize cache already requires.
 */
import { type DesiredObject, type LiveObject, planChanges } from '../plan/plan.js';
import type { Plan, PlanOptions, PlanRefusal } from '../plan/types.js';

export type PlanChangesOf = typeof planChanges;

interface Planned {
  readonly live: readonly LiveObject[];
  readonly inventory: ReadonlySet<string>;
  readonly options: Partial<PlanOptions>;
  readonly plan: Plan | PlanRefusal;
}

export function createPlanMemo(): PlanChangesOf {
  const planned = new WeakMap<readonly DesiredObject[], Planned>();
  return (desired, live, inventory, options = {}) => {
    const last = planned.get(desired);
    if (
      last !== undefined &&
      sameLive(last.live, live) &&
      sameKeys(last.inventory, inventory) &&
      sameOption(last.options, options, 'prune') &&
      sameOption(last.options, options, 'allowEmpty')
    ) {
      return last.plan;
    }
    const plan = planChanges(desired, live, inventory, options);
    planned.set(desired, {
      live: [...live],
      inventory: new Set(inventory),
      options: { ...options },
      plan,
    });
    return plan;
  };
}

function sameLive(a: readonly LiveObject[], b: readonly LiveObject[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as LiveObject;
    const y = b[i] as LiveObject;
    if (x.kind !== y.kind || x.object !== y.object) return false;
  }
  return true;
}

/** Present alike (an explicit undefined overrides the default) and equal. */
function sameOption(
  a: Partial<PlanOptions>,
  b: Partial<PlanOptions>,
  name: keyof PlanOptions,
): boolean {
  return Object.hasOwn(a, name) === Object.hasOwn(b, name) && a[name] === b[name];
}

function sameKeys(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const key of a) if (!b.has(key)) return false;
  return true;
}
