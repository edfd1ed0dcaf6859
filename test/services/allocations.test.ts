import { describe, expect, it } from 'vitest';
import type { ServiceSpec } from '../../operator/model/generated/types.js';
import {
  type AllocationChange,
  type AllocationPlan,
  formatAllocationProblem,
  planAllocations,
  type ServiceToAllocate,
} from '../../operator/services/index.js';
import type { Allocation } from '../../operator/store/store.js';
import { service } from './fixtures.js';

const options = { serviceCidr: '10.96.0.0/16', nodePortRange: { min: 30000, max: 32767 } };

function svc(
  name: string,
  spec: Partial<ServiceSpec> = {},
  namespace = 'default',
): ServiceToAllocate {
  return { key: `Service/${namespace}/${name}`, service: service(name, spec, namespace) };
}

/** What the store holds after applying the plan to `held` (releases first, then claims). */
function apply(held: readonly Allocation[], plan: AllocationPlan): Allocation[] {
  const released = (a: Allocation) =>
    plan.releases.some((r) => r.kind === a.kind && r.owner === a.owner && r.value === a.value);
  const kept = held.filter((a) => !released(a));
  const claimed = plan.claims.map((c: AllocationChange) => ({ ...c, allocatedAt: 't' }));
  const all = [...kept, ...claimed];
  // The store's constraints: one value per owner and kind, one owner per value and kind.
  for (const kind of ['clusterIP', 'nodePort'] as const) {
    const ofKind = all.filter((a) => a.kind === kind);
    expect(new Set(ofKind.map((a) => a.owner)).size).toBe(ofKind.length);
    expect(new Set(ofKind.map((a) => a.value)).size).toBe(ofKind.length);
  }
  return all;
}

function held(kind: Allocation['kind'], owner: string, value: string): Allocation {
  return { kind, owner, value, allocatedAt: 't0' };
}

describe('planAllocations: cluster IPs', () => {
  it('gives the lowest free addresses, skipping .0 and .1, and keeps them on re-plan', () => {
    const services = [svc('b'), svc('a'), svc('h', { clusterIP: 'None' })];
    const first = planAllocations(services, [], options);
    expect(first.problems).toEqual([]);
    expect([...first.clusterIPs]).toEqual([
      ['Service/default/a', '10.96.0.2'],
      ['Service/default/b', '10.96.0.3'],
      ['Service/default/h', undefined],
    ]);
    expect(first.releases).toEqual([]);
    const store = apply([], first);
    // The same services again (a re-apply, a restart): nothing to claim or release.
    const second = planAllocations([...services].reverse(), store, options);
    expect([...second.clusterIPs]).toEqual([...first.clusterIPs]);
    expect(second.claims).toEqual([]);
    expect(second.releases).toEqual([]);
  });

  it('an earlier service keeps its address when a new one sorts before it', () => {
    const store = [held('clusterIP', 'Service/default/zz', '10.96.0.2')];
    const plan = planAllocations([svc('aa'), svc('zz')], store, options);
    expect(plan.clusterIPs.get('Service/default/zz')).toBe('10.96.0.2');
    expect(plan.clusterIPs.get('Service/default/aa')).toBe('10.96.0.3');
  });

  it.each([
    {
      case: 'free and inside the range: honoured',
      ip: '10.96.5.5',
      held: [] as Allocation[],
      result: '10.96.5.5',
      message: undefined,
    },
    {
      case: 'held by another service: refused naming it',
      ip: '10.96.0.2',
      held: [held('clusterIP', 'Service/kube/other', '10.96.0.2')],
      result: undefined,
      message:
        'spec.clusterIP: 10.96.0.2 is already allocated to service kube/other; choose another or leave it out to have one allocated',
    },
    {
      case: 'outside the range: refused naming the range',
      ip: '10.0.0.5',
      held: [] as Allocation[],
      result: undefined,
      message:
        'spec.clusterIP: 10.0.0.5 is outside the service range 10.96.0.0/16 (10.96.0.2-10.96.255.254); choose an address in it or leave clusterIP out to have one allocated',
    },
    {
      case: 'the reserved first address: refused',
      ip: '10.96.0.1',
      held: [] as Allocation[],
      result: undefined,
      message:
        'spec.clusterIP: 10.96.0.1 is outside the service range 10.96.0.0/16 (10.96.0.2-10.96.255.254); choose an address in it or leave clusterIP out to have one allocated',
    },
  ])('a written clusterIP $case', (row) => {
    const services = [svc('web', { clusterIP: row.ip })];
    if (row.held.length > 0) services.push(svc('other', {}, 'kube'));
    const origin = { file: 'web.yaml', line: 3, column: 1 };
    const withOrigin = services.map((s) =>
      s.key === 'Service/default/web' ? { ...s, origin } : s,
    );
    const plan = planAllocations(withOrigin, row.held, options);
    expect(plan.clusterIPs.get('Service/default/web')).toBe(row.result);
    expect(plan.clusterIPs.has('Service/default/web')).toBe(row.result !== undefined);
    expect(plan.problems.map(formatAllocationProblem)).toEqual(
      row.message === undefined ? [] : [row.message],
    );
    if (row.message !== undefined) {
      expect(plan.problems[0]).toMatchObject({
        key: 'Service/default/web',
        origin,
        field: 'spec.clusterIP',
      });
    } else {
      expect(plan.claims).toEqual([
        { kind: 'clusterIP', owner: 'Service/default/web', value: row.ip },
      ]);
    }
  });

  it('the second of two services writing one address is refused; the first gets it', () => {
    const plan = planAllocations(
      [svc('b', { clusterIP: '10.96.1.1' }), svc('a', { clusterIP: '10.96.1.1' })],
      [],
      options,
    );
    expect(plan.clusterIPs.get('Service/default/a')).toBe('10.96.1.1');
    expect(plan.clusterIPs.has('Service/default/b')).toBe(false);
    expect(plan.problems.map((p) => p.key)).toEqual(['Service/default/b']);
    expect(plan.problems[0]?.message).toContain('already allocated to service default/a');
  });

  it('a service asking for a taken address keeps the one it holds meanwhile', () => {
    const store = [
      held('clusterIP', 'Service/default/web', '10.96.0.7'),
      held('clusterIP', 'Service/default/db', '10.96.0.8'),
    ];
    const plan = planAllocations(
      [svc('web', { clusterIP: '10.96.0.8' }), svc('db')],
      store,
      options,
    );
    expect(plan.clusterIPs.get('Service/default/web')).toBe('10.96.0.7');
    expect(plan.problems[0]?.message).toContain('the service keeps 10.96.0.7 until then');
    expect(plan.claims).toEqual([]);
    expect(plan.releases).toEqual([]);
  });

  it('a service moving to a free written address releases the old one', () => {
    const store = [held('clusterIP', 'Service/default/web', '10.96.0.7')];
    const plan = planAllocations([svc('web', { clusterIP: '10.96.0.9' })], store, options);
    expect(plan.clusterIPs.get('Service/default/web')).toBe('10.96.0.9');
    expect(plan.releases).toEqual([
      { kind: 'clusterIP', owner: 'Service/default/web', value: '10.96.0.7' },
    ]);
    expect(plan.claims).toEqual([
      { kind: 'clusterIP', owner: 'Service/default/web', value: '10.96.0.9' },
    ]);
    apply(store, plan);
  });

  it('releases the address of a deleted service and of one turned headless, then reuses it', () => {
    const store = [
      held('clusterIP', 'Service/default/gone', '10.96.0.2'),
      held('clusterIP', 'Service/default/h', '10.96.0.3'),
    ];
    const plan = planAllocations([svc('h', { clusterIP: 'None' }), svc('new')], store, options);
    expect(plan.releases).toEqual([
      { kind: 'clusterIP', owner: 'Service/default/gone', value: '10.96.0.2' },
      { kind: 'clusterIP', owner: 'Service/default/h', value: '10.96.0.3' },
    ]);
    expect(plan.clusterIPs.get('Service/default/new')).toBe('10.96.0.2');
    expect(plan.clusterIPs.get('Service/default/h')).toBe(undefined);
    apply(store, plan);
  });

  it('moves a held address that is outside a changed range', () => {
    const store = [held('clusterIP', 'Service/default/web', '10.96.0.9')];
    const plan = planAllocations([svc('web')], store, { ...options, serviceCidr: '10.97.0.0/24' });
    expect(plan.clusterIPs.get('Service/default/web')).toBe('10.97.0.2');
    expect(plan.releases).toHaveLength(1);
  });

  it('reports an exhausted range', () => {
    const small = { ...options, serviceCidr: '10.96.0.0/30' }; // one usable address: .2
    const plan = planAllocations([svc('a'), svc('b')], [], small);
    expect(plan.clusterIPs.get('Service/default/a')).toBe('10.96.0.2');
    expect(plan.clusterIPs.has('Service/default/b')).toBe(false);
    expect(plan.problems.map(formatAllocationProblem)).toEqual([
      'spec.clusterIP: no address is free in the service range 10.96.0.0/30 (10.96.0.2-10.96.0.2); delete a service or widen --service-cidr',
    ]);
  });

  it('refuses a malformed range with a BerthError', () => {
    expect(() => planAllocations([], [], { ...options, serviceCidr: '10.96.0.0' })).toThrow(
      /not an IPv4 CIDR/,
    );
  });
});

describe('planAllocations: node ports', () => {
  const nodePortService = (
    name: string,
    ports: ServiceSpec['ports'],
    type: ServiceSpec['type'] = 'NodePort',
  ) => svc(name, { type, ports });

  it('allocates the lowest free port per port, stable on re-plan', () => {
    const services = [
      nodePortService('web', [
        { name: 'http', port: 80 },
        { name: 'https', port: 443 },
      ]),
      nodePortService('lb', [{ port: 80 }], 'LoadBalancer'),
      svc('plain'),
    ];
    const first = planAllocations(services, [], options);
    expect(first.problems).toEqual([]);
    expect(first.nodePorts.get('Service/default/lb')).toEqual({ '': 30000 });
    expect(first.nodePorts.get('Service/default/web')).toEqual({ http: 30001, https: 30002 });
    expect(first.nodePorts.get('Service/default/plain')).toEqual({});
    expect(first.claims.filter((c) => c.kind === 'nodePort')).toEqual([
      { kind: 'nodePort', owner: 'Service/default/lb#', value: '30000' },
      { kind: 'nodePort', owner: 'Service/default/web#http', value: '30001' },
      { kind: 'nodePort', owner: 'Service/default/web#https', value: '30002' },
    ]);
    const store = apply([], first);
    const second = planAllocations(services, store, options);
    expect([...second.nodePorts]).toEqual([...first.nodePorts]);
    expect(second.claims).toEqual([]);
    expect(second.releases).toEqual([]);
  });

  it('honours a written node port and skips it when allocating', () => {
    const plan = planAllocations(
      [nodePortService('a', [{ port: 80 }]), nodePortService('b', [{ port: 80, nodePort: 30000 }])],
      [],
      options,
    );
    expect(plan.nodePorts.get('Service/default/b')).toEqual({ '': 30000 });
    expect(plan.nodePorts.get('Service/default/a')).toEqual({ '': 30001 });
  });

  it('refuses a node port another service holds, naming it and the fix', () => {
    const store = [held('nodePort', 'Service/default/other#', '30080')];
    const plan = planAllocations(
      [
        nodePortService('other', [{ port: 80 }]),
        nodePortService('web', [{ port: 80, nodePort: 30080 }]),
      ],
      store,
      options,
    );
    expect(plan.problems.map(formatAllocationProblem)).toEqual([
      'spec.ports[0].nodePort: 30080 is already allocated to service default/other; choose another or leave it out to have one allocated',
    ]);
    expect(plan.problems[0]?.key).toBe('Service/default/web');
    expect(plan.nodePorts.get('Service/default/web')).toEqual({});
    expect(plan.nodePorts.get('Service/default/other')).toEqual({ '': 30080 });
  });

  it('refuses a node port outside the configured range', () => {
    const plan = planAllocations([nodePortService('web', [{ port: 80, nodePort: 30500 }])], [], {
      ...options,
      nodePortRange: { min: 31000, max: 31999 },
    });
    expect(plan.problems.map(formatAllocationProblem)).toEqual([
      'spec.ports[0].nodePort: 30500 is outside the node port range 31000-31999; choose one in it or leave it out to have one allocated',
    ]);
  });

  it('releases node ports when the type goes back to ClusterIP, keeping the address', () => {
    const store = [
      held('clusterIP', 'Service/default/web', '10.96.0.2'),
      held('nodePort', 'Service/default/web#http', '30001'),
    ];
    const plan = planAllocations(
      [svc('web', { ports: [{ name: 'http', port: 80 }] })],
      store,
      options,
    );
    expect(plan.releases).toEqual([
      { kind: 'nodePort', owner: 'Service/default/web#http', value: '30001' },
    ]);
    expect(plan.claims).toEqual([]);
    expect(plan.clusterIPs.get('Service/default/web')).toBe('10.96.0.2');
    expect(plan.nodePorts.get('Service/default/web')).toEqual({});
  });

  it('releases everything of a deleted service', () => {
    const store = [
      held('clusterIP', 'Service/default/gone', '10.96.0.2'),
      held('nodePort', 'Service/default/gone#a', '30001'),
      held('nodePort', 'Service/default/gone#b', '30002'),
    ];
    const plan = planAllocations([], store, options);
    expect(plan.releases).toEqual([
      { kind: 'clusterIP', owner: 'Service/default/gone', value: '10.96.0.2' },
      { kind: 'nodePort', owner: 'Service/default/gone#a', value: '30001' },
      { kind: 'nodePort', owner: 'Service/default/gone#b', value: '30002' },
    ]);
    expect(apply(store, plan)).toEqual([]);
  });

  it('a renamed port keeps the number its service held', () => {
    const store = [held('nodePort', 'Service/default/web#http', '30555')];
    const plan = planAllocations(
      [nodePortService('web', [{ name: 'web', port: 80 }])],
      store,
      options,
    );
    expect(plan.nodePorts.get('Service/default/web')).toEqual({ web: 30555 });
    apply(store, plan);
  });

  it('TCP and UDP ports of one service may share a node port', () => {
    const dns = nodePortService('dns', [
      { name: 'dns-udp', port: 53, protocol: 'UDP', nodePort: 30053 },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', nodePort: 30053 },
    ]);
    const first = planAllocations([dns], [], options);
    expect(first.problems).toEqual([]);
    expect(first.nodePorts.get('Service/default/dns')).toEqual({
      'dns-udp': 30053,
      'dns-tcp': 30053,
    });
    const store = apply([], first);
    expect(store).toHaveLength(2); // the address and one node port
    const second = planAllocations([dns], store, options);
    expect(second.claims).toEqual([]);
    expect(second.releases).toEqual([]);
  });

  it('a LoadBalancer without allocateLoadBalancerNodePorts gets written ports only', () => {
    const plan = planAllocations(
      [
        svc('lb', {
          type: 'LoadBalancer',
          allocateLoadBalancerNodePorts: false,
          ports: [
            { name: 'a', port: 80 },
            { name: 'b', port: 81, nodePort: 31000 },
          ],
        }),
      ],
      [],
      options,
    );
    expect(plan.nodePorts.get('Service/default/lb')).toEqual({ b: 31000 });
  });

  it('is deterministic: any input order gives the same plan', () => {
    const services = [
      nodePortService('c', [{ port: 80 }]),
      nodePortService('a', [{ port: 80, nodePort: 30002 }]),
      svc('b', { clusterIP: '10.96.0.3' }),
      svc('d'),
      nodePortService(
        'e',
        [
          { name: 'x', port: 1 },
          { name: 'y', port: 2 },
        ],
        'LoadBalancer',
      ),
    ];
    const store = [
      held('clusterIP', 'Service/default/d', '10.96.0.2'),
      held('nodePort', 'Service/default/gone#', '30000'),
    ];
    const reference = planAllocations(services, store, options);
    for (let shift = 1; shift < services.length; shift++) {
      const rotated = [...services.slice(shift), ...services.slice(0, shift)];
      const plan = planAllocations(rotated, [...store].reverse(), options);
      expect(plan).toEqual(reference);
      expect([...plan.clusterIPs.keys()]).toEqual([...reference.clusterIPs.keys()]);
    }
    expect(reference.problems).toEqual([]);
    expect(reference.nodePorts.get('Service/default/c')).toEqual({ '': 30000 });
    expect(reference.nodePorts.get('Service/default/e')).toEqual({ x: 30001, y: 30003 });
    apply(store, reference);
  });
});
