/**
 * The embedded operator: `startEmbeddedOperator` runs the store, the node endpoint, the engine
 * (state in the store) and this host's node agent in one process; `berth apply` uses it.
 */
export {
  defaultOperatorDataDir,
  type EmbeddedOperator,
  type EmbeddedOperatorOptions,
  type LocalAgent,
  startEmbeddedOperator,
} from './embedded.js';
