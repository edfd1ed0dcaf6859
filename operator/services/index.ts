/**
 * Services, the operator's pure side: endpoints from ready pods, the ServiceView handed to
 * every node, the v1 Endpoints object and kubectl's ENDPOINTS column, the environment
 * variables pods get for services, and the planning of cluster IPs and node ports.
 */

export * from './allocations.js';
export * from './endpoints.js';
export * from './service-env.js';
export * from './types.js';
export * from './views.js';
