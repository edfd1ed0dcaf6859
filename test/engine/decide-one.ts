/** `decide` for one app named `app`, the plan options given beside the decide options. */
import {
  type DecideOptions,
  type Decision,
  decide,
  type NodeView,
} from '../../operator/engine/decide.js';
import type { EngineSnapshot } from '../../operator/engine/state.js';
import type { DesiredObject } from '../../operator/plan/plan.js';
import type { PlanOptions } from '../../operator/plan/types.js';

export function decideOne(
  objects: readonly DesiredObject[],
  state: EngineSnapshot,
  nodes: readonly NodeView[],
  now: number,
  options: DecideOptions & Partial<PlanOptions>,
): Decision {
  const { prune, allowEmpty, ...decideOptions } = options;
  const plan = {
    ...(prune === undefined ? {} : { prune }),
    ...(allowEmpty === undefined ? {} : { allowEmpty }),
  };
  return decide(new Map([['app', { objects, plan }]]), state, nodes, now, decideOptions);
}
