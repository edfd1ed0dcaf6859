/**
 * The operator: `startEmbeddedOperator` runs the store, the node endpoint, the engine (state in
 * the store) and this host's node agent in one process (`berth apply`); `startOperatorServer`
 * runs it as `berth serve`, with the operator API; `findOperatorServer` finds a running one.
 */

export {
  type FindServerOptions,
  findOperatorServer,
  type ServerAddress,
} from './discovery.js';
export {
  defaultOperatorDataDir,
  type EmbeddedOperator,
  type EmbeddedOperatorOptions,
  type LocalAgent,
  startEmbeddedOperator,
} from './embedded.js';
export {
  DEFAULT_SERVER_LISTEN,
  type OperatorServer,
  type OperatorServerOptions,
  type ServerRecord,
  startOperatorServer,
} from './server.js';
