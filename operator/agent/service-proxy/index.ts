/**
 * The agent's service proxy: iptables rules that send each service's traffic to its ready
 * endpoints (rules.ts, pure) and the adapter that applies them on the host (iptables.ts).
 */
export {
  createServiceProxy,
  DEFAULT_SINK_DEVICE,
  type ServiceProxy,
  type ServiceProxyOptions,
} from './iptables.js';
export {
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  DEFAULT_CHAIN_PREFIX,
  endpointChainName,
  filterRules,
  type JumpRule,
  jumpRules,
  MASQ_MARK,
  natRules,
  type ProxyRulesOptions,
  proxyRules,
  serviceChainName,
} from './rules.js';
