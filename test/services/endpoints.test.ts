import { describe, expect, it } from 'vitest';
import {
  type EndpointView,
  endpointsColumn,
  readyEndpoints,
  resolveTargetPort,
  serviceView,
  toV1Endpoints,
} from '../../operator/services/index.js';
import { pod, service, status } from './fixtures.js';

describe('readyEndpoints', () => {
  const web = service('web', { ports: [{ port: 80, targetPort: 8080 }] });

  it.each([
    { case: 'running and ready', status: status('172.17.0.2'), included: true },
    { case: 'not ready', status: status('172.17.0.2', { ready: false }), included: false },
    { case: 'pending', status: status('172.17.0.2', { phase: 'Pending' }), included: false },
    { case: 'succeeded', status: status('172.17.0.2', { phase: 'Succeeded' }), included: false },
    { case: 'no pod IP', status: status(undefined), included: false },
    { case: 'no status yet', status: undefined, included: false },
  ])('a pod that is $case is an endpoint: $included', (row) => {
    const pods = [{ pod: pod('web-1', { app: 'web' }), node: 'n1', status: row.status }];
    const endpoints = readyEndpoints(
      web,
      row.status === undefined ? [{ pod: pods[0]!.pod, node: 'n1' }] : pods,
    );
    expect(endpoints.length).toBe(row.included ? 1 : 0);
  });

  it('takes pods of the service namespace whose labels match, sorted by address', () => {
    const pods = [
      { pod: pod('web-b', { app: 'web', tier: 'x' }), node: 'n2', status: status('172.17.0.10') },
      { pod: pod('web-a', { app: 'web' }), node: 'n1', status: status('172.17.0.9') },
      { pod: pod('other', { app: 'db' }), node: 'n1', status: status('172.17.0.3') },
      { pod: pod('web-x', { app: 'web' }, [], 'prod'), node: 'n1', status: status('172.17.0.4') },
    ];
    expect(readyEndpoints(web, pods)).toEqual([
      { ip: '172.17.0.9', pod: 'default/web-a', node: 'n1', ports: { '': 8080 } },
      { ip: '172.17.0.10', pod: 'default/web-b', node: 'n2', ports: { '': 8080 } },
    ]);
  });

  it('a pod being deleted is no endpoint', () => {
    const terminating = pod('web-1', { app: 'web' });
    terminating.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const pods = [{ pod: terminating, node: 'n1', status: status('172.17.0.2') }];
    expect(readyEndpoints(web, pods)).toEqual([]);
    expect(readyEndpoints(web, [{ ...pods[0]!, pod: pod('web-1', { app: 'web' }) }])).toHaveLength(
      1,
    );
  });

  it('a service without a selector has no endpoints', () => {
    const manual = service('manual', { selector: undefined });
    const empty = service('empty', { selector: {} });
    const pods = [{ pod: pod('p', { app: 'manual' }), node: 'n1', status: status('172.17.0.2') }];
    expect(readyEndpoints(manual, pods)).toEqual([]);
    expect(readyEndpoints(empty, pods)).toEqual([]);
  });

  it('resolves a named targetPort per pod, and leaves a pod out where it does not resolve', () => {
    const api = service('api', {
      ports: [
        { name: 'http', port: 80, targetPort: 'web' },
        { name: 'metrics', port: 9090, targetPort: 'metrics' },
      ],
    });
    const pods = [
      {
        pod: pod('api-1', { app: 'api' }, [
          { name: 'web', containerPort: 8080 },
          { name: 'metrics', containerPort: 9100 },
        ]),
        node: 'n1',
        status: status('172.17.0.2'),
      },
      {
        pod: pod('api-2', { app: 'api' }, [{ name: 'web', containerPort: 3000 }]),
        node: 'n2',
        status: status('172.17.0.3'),
      },
      // No port named web or metrics: no endpoint at all.
      {
        pod: pod('api-3', { app: 'api' }, [{ name: 'other', containerPort: 1 }]),
        node: 'n2',
        status: status('172.17.0.4'),
      },
    ];
    expect(readyEndpoints(api, pods)).toEqual([
      { ip: '172.17.0.2', pod: 'default/api-1', node: 'n1', ports: { http: 8080, metrics: 9100 } },
      { ip: '172.17.0.3', pod: 'default/api-2', node: 'n2', ports: { http: 3000 } },
    ]);
  });

  it('matches a named port only with the same protocol, and defaults targetPort to port', () => {
    const udpPod = pod('dns', { app: 'dns' }, [
      { name: 'dns', containerPort: 5353, protocol: 'UDP' },
      { name: 'dns-tcp', containerPort: 5354 },
    ]);
    expect(resolveTargetPort(udpPod, { port: 53, protocol: 'UDP', targetPort: 'dns' })).toBe(5353);
    expect(resolveTargetPort(udpPod, { port: 53, protocol: 'TCP', targetPort: 'dns' })).toBe(
      undefined,
    );
    expect(resolveTargetPort(udpPod, { port: 53 })).toBe(53);
    expect(resolveTargetPort(udpPod, { port: 53, targetPort: 99 })).toBe(99);
  });

  it('a headless service without ports lists its ready pods without ports', () => {
    const headless = service('h', { clusterIP: 'None', ports: undefined, selector: { app: 'h' } });
    const pods = [{ pod: pod('h-1', { app: 'h' }), node: 'n1', status: status('172.17.0.7') }];
    expect(readyEndpoints(headless, pods)).toEqual([
      { ip: '172.17.0.7', pod: 'default/h-1', node: 'n1', ports: {} },
    ]);
  });

  it('publishNotReadyAddresses includes pods that are not ready', () => {
    const s = service('web', { publishNotReadyAddresses: true });
    const pods = [
      { pod: pod('a', { app: 'web' }), node: 'n1', status: status('172.17.0.2', { ready: false }) },
      {
        pod: pod('b', { app: 'web' }),
        node: 'n1',
        status: status('172.17.0.3', { phase: 'Failed' }),
      },
    ];
    expect(readyEndpoints(s, pods).map((e) => e.ip)).toEqual(['172.17.0.2']);
  });
});

describe('serviceView', () => {
  it('defaults type and affinity, and keeps node ports only for NodePort services', () => {
    const plain = service('web', { ports: [{ port: 80, nodePort: 30080 }] });
    expect(serviceView(plain, '10.96.0.2', { '': 30080 }, [])).toEqual({
      namespace: 'default',
      name: 'web',
      type: 'ClusterIP',
      clusterIP: '10.96.0.2',
      sessionAffinity: 'None',
      ports: [{ name: '', protocol: 'TCP', port: 80 }],
      endpoints: [],
    });
    const nodePort = service('np', {
      type: 'NodePort',
      sessionAffinity: 'ClientIP',
      ports: [
        { name: 'http', port: 80 },
        { name: 'dns', port: 53, protocol: 'UDP' },
      ],
    });
    expect(serviceView(nodePort, '10.96.0.3', { http: 30001, dns: 30002 }, [])).toMatchObject({
      type: 'NodePort',
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 10800,
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, nodePort: 30001 },
        { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30002 },
      ],
    });
  });

  it('takes the affinity timeout from the manifest, gives no address to a headless service', () => {
    const s = service('h', {
      clusterIP: 'None',
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    });
    const view = serviceView(s, undefined, {}, []);
    expect(view?.affinityTimeoutSeconds).toBe(60);
    expect(view !== undefined && 'clusterIP' in view).toBe(false);
    expect(serviceView(service('x', { type: 'ExternalName' }), undefined, {}, [])).toBe(undefined);
  });
});

function viewWith(
  endpoints: EndpointView[],
  ports = [{ name: '', protocol: 'TCP' as const, port: 80 }],
) {
  return {
    namespace: 'default',
    name: 'web',
    type: 'ClusterIP' as const,
    clusterIP: '10.96.0.2',
    sessionAffinity: 'None' as const,
    ports,
    endpoints,
  };
}

function ep(ip: string, name: string, ports: Record<string, number>): EndpointView {
  return { ip, pod: `default/${name}`, node: 'n1', ports };
}

describe('toV1Endpoints and the ENDPOINTS column', () => {
  it('groups addresses that share ports into one subset, as Kubernetes packs them', () => {
    const ports = [
      { name: 'http', protocol: 'TCP' as const, port: 80 },
      { name: 'metrics', protocol: 'TCP' as const, port: 9090 },
    ];
    const view = viewWith(
      [
        ep('172.17.0.3', 'b', { http: 8080, metrics: 9100 }),
        ep('172.17.0.2', 'a', { http: 8080, metrics: 9100 }),
        ep('172.17.0.4', 'c', { http: 3000 }),
      ],
      ports,
    );
    const address = (ip: string, name: string) => ({
      ip,
      nodeName: 'n1',
      targetRef: { kind: 'Pod', namespace: 'default', name },
    });
    expect(toV1Endpoints(view)).toEqual({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'web', namespace: 'default' },
      subsets: [
        {
          addresses: [address('172.17.0.2', 'a'), address('172.17.0.3', 'b')],
          ports: [
            { name: 'http', port: 8080, protocol: 'TCP' },
            { name: 'metrics', port: 9100, protocol: 'TCP' },
          ],
        },
        {
          addresses: [address('172.17.0.4', 'c')],
          ports: [{ name: 'http', port: 3000, protocol: 'TCP' }],
        },
      ],
    });
    expect(endpointsColumn(view)).toBe(
      '172.17.0.2:8080,172.17.0.3:8080,172.17.0.2:9100 + 2 more...',
    );
  });

  it.each([
    { count: 0, column: '<none>' },
    { count: 1, column: '172.17.0.1:80' },
    { count: 3, column: '172.17.0.1:80,172.17.0.2:80,172.17.0.3:80' },
    { count: 5, column: '172.17.0.1:80,172.17.0.2:80,172.17.0.3:80 + 2 more...' },
  ])('$count endpoints show as $column', ({ count, column }) => {
    const endpoints = Array.from({ length: count }, (_, i) =>
      ep(`172.17.0.${i + 1}`, `p${i}`, { '': 80 }),
    );
    const view = viewWith(endpoints);
    expect(endpointsColumn(view)).toBe(column);
    if (count === 0) expect(toV1Endpoints(view).subsets).toBe(undefined);
    else expect(toV1Endpoints(view).subsets?.[0]?.ports).toEqual([{ port: 80, protocol: 'TCP' }]);
  });

  it('a headless service without ports shows bare addresses', () => {
    const view = { ...viewWith([ep('172.17.0.9', 'a', {}), ep('172.17.0.8', 'b', {})], []) };
    expect(endpointsColumn(view)).toBe('172.17.0.8,172.17.0.9');
    expect(toV1Endpoints(view).subsets?.[0]?.ports).toBe(undefined);
  });
});
