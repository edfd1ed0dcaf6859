/**
 * The wire between berth's parts: the versioned node protocol (operator ↔ agent) and the
 * agent's status API (protocol.ts), the operator's minimal node endpoint, and the agent's
 * client of it. The only place with wire types; node:http and fetch, no framework.
 */
export {
  createNodeClient,
  type NodeClient,
  type NodeClientOptions,
  type Registration,
} from './node-client.js';
export {
  assignmentVersionOf,
  createNodeEndpoint,
  type NodeEndpoint,
  type NodeEndpointOptions,
  type NodeRecord,
} from './node-endpoint.js';
export {
  createOperatorApi,
  MAX_API_BODY_BYTES,
  type OperatorApiErrorBody,
  type OperatorApiParts,
} from './operator-api.js';
export {
  connectOperatorServer,
  type OperatorServerAddress,
  probeOperatorServer,
} from './operator-client.js';
export * from './protocol.js';
