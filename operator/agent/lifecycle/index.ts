/** Pure pod lifecycle decisions of the node agent: backoff, restarts, probes' verdicts, status. */
export * from './backoff.js';
export * from './clock.js';
export * from './drift-policy.js';
export * from './probe-state.js';
export * from './restart.js';
export * from './spec-hash.js';
export * from './status.js';
export * from './status-types.js';
