/**
 * The operator's reconcile engine.
 * - `decide(desired, state, nodes, now, options)`: pure; plans the source objects, works out
 *   bare pods and RC replicas, schedules unbound pods and gives each node its whole pod set,
 *   with a report per object (Pending pods carry the scheduler's message).
 * - `createEngine({ endpoint, state, clock, random })`: the loop that carries decisions out
 *   through the node endpoint (`sync`, `reconcile`, `start`).
 * - `EngineState` and `createMemoryState`: what the engine remembers between passes.
 */
export {
  type DecideOptions,
  type Decision,
  decide,
  type NodeView,
  type ObjectReport,
  podKey,
} from './decide.js';
export {
  createEngine,
  type Engine,
  type EngineOptions,
  type PassReport,
  type SyncResult,
} from './engine.js';
export {
  createMemoryState,
  type EngineSnapshot,
  type EngineState,
  emptySnapshot,
  type StoredPod,
} from './state.js';
