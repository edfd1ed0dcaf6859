import { describe, expect, it } from 'vitest';
import {
  type ServiceView,
  serviceEnvironment,
  serviceEnvName,
} from '../../operator/services/index.js';

function view(overrides: Partial<ServiceView> & Pick<ServiceView, 'name'>): ServiceView {
  return {
    namespace: 'default',
    type: 'ClusterIP',
    clusterIP: '10.96.0.10',
    sessionAffinity: 'None',
    ports: [{ name: '', protocol: 'TCP', port: 80 }],
    endpoints: [],
    ...overrides,
  };
}

describe('serviceEnvironment', () => {
  it('makes what the kubelet makes for a two-port service', () => {
    const redis = view({
      name: 'redis-master',
      clusterIP: '10.96.0.11',
      ports: [
        { name: 'redis', protocol: 'TCP', port: 6379 },
        { name: 'dns-udp', protocol: 'UDP', port: 53 },
      ],
    });
    // Written out by hand from envvars.go: host, first port, named ports, then the link
    // variables (first port as {N}_PORT, then per port the URL, proto, port and address).
    expect(serviceEnvironment([redis], 'default')).toEqual([
      { name: 'REDIS_MASTER_SERVICE_HOST', value: '10.96.0.11' },
      { name: 'REDIS_MASTER_SERVICE_PORT', value: '6379' },
      { name: 'REDIS_MASTER_SERVICE_PORT_REDIS', value: '6379' },
      { name: 'REDIS_MASTER_SERVICE_PORT_DNS_UDP', value: '53' },
      { name: 'REDIS_MASTER_PORT', value: 'tcp://10.96.0.11:6379' },
      { name: 'REDIS_MASTER_PORT_6379_TCP', value: 'tcp://10.96.0.11:6379' },
      { name: 'REDIS_MASTER_PORT_6379_TCP_PROTO', value: 'tcp' },
      { name: 'REDIS_MASTER_PORT_6379_TCP_PORT', value: '6379' },
      { name: 'REDIS_MASTER_PORT_6379_TCP_ADDR', value: '10.96.0.11' },
      { name: 'REDIS_MASTER_PORT_53_UDP', value: 'udp://10.96.0.11:53' },
      { name: 'REDIS_MASTER_PORT_53_UDP_PROTO', value: 'udp' },
      { name: 'REDIS_MASTER_PORT_53_UDP_PORT', value: '53' },
      { name: 'REDIS_MASTER_PORT_53_UDP_ADDR', value: '10.96.0.11' },
    ]);
  });

  it('a single unnamed port has no _SERVICE_PORT_{NAME} variable', () => {
    expect(serviceEnvironment([view({ name: 'web' })], 'default').map((v) => v.name)).toEqual([
      'WEB_SERVICE_HOST',
      'WEB_SERVICE_PORT',
      'WEB_PORT',
      'WEB_PORT_80_TCP',
      'WEB_PORT_80_TCP_PROTO',
      'WEB_PORT_80_TCP_PORT',
      'WEB_PORT_80_TCP_ADDR',
    ]);
  });

  it('gives nothing for headless services or services of other namespaces', () => {
    const headless = view({ name: 'db', clusterIP: undefined });
    const { clusterIP: _omitted, ...withoutAddress } = view({ name: 'db2' });
    const elsewhere = view({ name: 'web', namespace: 'prod' });
    expect(serviceEnvironment([headless, withoutAddress, elsewhere], 'default')).toEqual([]);
    expect(serviceEnvironment([elsewhere], 'prod')).toHaveLength(7);
  });

  it('orders services by name whatever the input order', () => {
    const a = view({ name: 'alpha', clusterIP: '10.96.0.2' });
    const b = view({ name: 'beta', clusterIP: '10.96.0.3' });
    const forward = serviceEnvironment([a, b], 'default');
    expect(serviceEnvironment([b, a], 'default')).toEqual(forward);
    expect(forward[0]?.name).toBe('ALPHA_SERVICE_HOST');
    expect(forward[7]?.name).toBe('BETA_SERVICE_HOST');
  });

  it.each([
    ['redis-master', 'REDIS_MASTER'],
    ['web', 'WEB'],
    ['a-b-c1', 'A_B_C1'],
  ])('names %s as %s', (name, expected) => {
    expect(serviceEnvName(name)).toBe(expected);
  });
});
