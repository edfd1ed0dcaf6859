/**
 * What a node needs to know of the services to carry their traffic: the operator computes it
 * (addresses, node ports, endpoints from ready pods) and hands it to every node's agent with
 * its pod set; the agent programs its proxy (iptables) and answers DNS from it. Pure data.
 */

export type ServiceProtocol = 'TCP' | 'UDP';

export interface ServicePortView {
  /** The port's name ('' when the service has one unnamed port). */
  readonly name: string;
  readonly protocol: ServiceProtocol;
  /** The port on the cluster IP. */
  readonly port: number;
  /** Set for NodePort and LoadBalancer services: answers on every node address, 127.0.0.1 too. */
  readonly nodePort?: number;
}

/** One ready pod backing the service, with the pod port each service port goes to. */
export interface EndpointView {
  readonly ip: string;
  /** `namespace/name` of the pod. */
  readonly pod: string;
  /** The node the pod runs on. */
  readonly node: string;
  /** Service port name -> the pod's port (targetPort resolved for this pod). */
  readonly ports: Readonly<Record<string, number>>;
}

export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  /** 'ClusterIP' | 'NodePort' | 'LoadBalancer' (LoadBalancer behaves as NodePort here). */
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** The cluster address; absent for a headless service (`clusterIP: None`). */
  readonly clusterIP?: string;
  /** `ClientIP` keeps a client on one endpoint (for `timeoutSeconds`, default 10800). */
  readonly sessionAffinity: 'None' | 'ClientIP';
  readonly affinityTimeoutSeconds?: number;
  readonly ports: readonly ServicePortView[];
  /** Ready endpoints only: an endpoint that is not ready gets no new connections. */
  readonly endpoints: readonly EndpointView[];
}

/** The cluster DNS domain: `name.namespace.svc.cluster.local`. */
export const CLUSTER_DOMAIN = 'cluster.local';
/** Where cluster addresses come from unless `--service-cidr` says otherwise. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

/**
 * On a pod berth made: the service environment variables (JSON `[{name, value}]`) of the
 * services that existed when it was made, which its containers get before their own env.
 */
export const SERVICE_ENV_ANNOTATION = 'berth.io/service-env';
