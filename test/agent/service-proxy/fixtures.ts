import type { EndpointView, ServiceView } from '../../../operator/services/types.js';

/** Services as the operator hands them to a node, for the proxy's rule tests. */

export function endpoint(ip: string, pod: string, ports: Record<string, number>): EndpointView {
  return { ip, pod: `default/${pod}`, node: 'node-1', ports };
}

/** ClusterIP, one unnamed TCP port, three endpoints given out of address order. */
export const web: ServiceView = {
  namespace: 'default',
  name: 'web',
  type: 'ClusterIP',
  clusterIP: '10.96.0.10',
  sessionAffinity: 'None',
  ports: [{ name: '', protocol: 'TCP', port: 80 }],
  endpoints: [
    endpoint('172.17.0.4', 'web-c', { '': 8080 }),
    endpoint('172.17.0.2', 'web-a', { '': 8080 }),
    endpoint('172.17.0.3', 'web-b', { '': 8080 }),
  ],
};

/** NodePort with ClientIP affinity and two endpoints. */
export const shop: ServiceView = {
  namespace: 'prod',
  name: 'shop',
  type: 'NodePort',
  clusterIP: '10.96.0.20',
  sessionAffinity: 'ClientIP',
  affinityTimeoutSeconds: 600,
  ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }],
  endpoints: [
    endpoint('172.17.0.5', 'shop-a', { http: 80 }),
    endpoint('172.17.0.6', 'shop-b', { http: 80 }),
  ],
};

/** UDP and TCP on one name; one endpoint. */
export const dns: ServiceView = {
  namespace: 'kube-system',
  name: 'dns',
  type: 'ClusterIP',
  clusterIP: '10.96.0.53',
  sessionAffinity: 'None',
  ports: [
    { name: 'dns', protocol: 'UDP', port: 53 },
    { name: 'dns-tcp', protocol: 'TCP', port: 53 },
  ],
  endpoints: [endpoint('172.17.0.7', 'dns-a', { dns: 5353, 'dns-tcp': 5353 })],
};

/** Headless: no cluster IP, endpoints resolved by DNS only. */
export const headless: ServiceView = {
  namespace: 'default',
  name: 'db',
  type: 'ClusterIP',
  sessionAffinity: 'None',
  ports: [{ name: '', protocol: 'TCP', port: 5432 }],
  endpoints: [endpoint('172.17.0.8', 'db-0', { '': 5432 })],
};

/** A NodePort service whose pods are all unready. */
export const empty: ServiceView = {
  namespace: 'default',
  name: 'empty',
  type: 'LoadBalancer',
  clusterIP: '10.96.0.30',
  sessionAffinity: 'None',
  ports: [{ name: '', protocol: 'TCP', port: 80, nodePort: 30081 }],
  endpoints: [],
};
