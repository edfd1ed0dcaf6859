/**
 * The node agent: berth's kubelet. What the folder offers:
 * - createNodeAgent: the loop that makes one node's engine run exactly its desired pods;
 * - createDockerRuntime: the runtime port (runtime.ts) on a real Docker Engine;
 * - the pod status the agent reports (Kubernetes' PodStatus shape) and the clock it runs on.
 * The pure decisions behind the loop live in ./lifecycle.
 */
export {
  createDockerRuntime,
  type DockerRuntime,
  type DockerRuntimeOptions,
} from './docker-runtime.js';
export { type Clock, ManualClock, systemClock } from './lifecycle/clock.js';
export type {
  ContainerState,
  ContainerStatusReport,
  PodCondition,
  PodPhase,
  PodStatusReport,
} from './lifecycle/status-types.js';
export {
  createNodeAgent,
  type NodeAgent,
  type NodeAgentOptions,
  type PodReport,
  pullPolicyOf,
} from './node-agent.js';
export { type ProbeOutcome, runProbe } from './probes.js';
export type { ContainerRuntime, ObservedContainer, RuntimeEvent } from './runtime.js';
export { LABELS } from './runtime.js';
