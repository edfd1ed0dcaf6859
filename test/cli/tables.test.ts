import { describe, expect, it } from 'vitest';
import type {
  ContainerState,
  ContainerStatusReport,
  PodStatusReport,
} from '../../operator/agent/lifecycle/status-types.js';
import { formatAge, formatDuration } from '../../operator/cli/age.js';
import {
  formatCpu,
  formatMemory,
  nodeStatusText,
  nodesTable,
  podReadyText,
  podRestarts,
  podStatusText,
  podsTable,
  renderTable,
  replicationControllersTable,
  servicePortsText,
  servicesTable,
  toV1List,
} from '../../operator/cli/tables.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const ago = (ms: number): string => new Date(NOW.getTime() - ms).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('formatDuration matches kubectl HumanDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [-500, '0s'],
    [-5 * S, '<invalid>'],
    [45 * S, '45s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [5 * M + 10 * S, '5m10s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 5 * M, '3h5m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H + 30 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [2 * D + 4 * H, '2d4h'],
    [8 * D + 4 * H, '8d'],
    [729 * D, '729d'],
    [2 * 365 * D + 10 * D, '2y10d'],
    [9 * 365 * D, '9y'],
  ];
  for (const [ms, expected] of cases) {
    it(`${ms} ms is ${expected}`, () => {
      expect(formatDuration(ms)).toBe(expected);
    });
  }

  it('reads ISO times against now, and says <unknown> without one', () => {
    expect(formatAge(ago(45 * S), NOW)).toBe('45s');
    expect(formatAge(undefined, NOW)).toBe('<unknown>');
    expect(formatAge('not a time', NOW)).toBe('<unknown>');
  });
});

describe('renderTable', () => {
  it('pads every column but the last to its widest cell, three spaces apart', () => {
    expect(
      renderTable(
        ['NAME', 'READY', 'AGE'],
        [
          ['web-abcde', '1/1', '5m'],
          ['db', '0/1', '45s'],
        ],
      ),
    ).toBe(
      ['NAME        READY   AGE', 'web-abcde   1/1     5m', 'db          0/1     45s'].join('\n'),
    );
  });
});

function container(
  state: ContainerState,
  extra: Partial<ContainerStatusReport> = {},
): ContainerStatusReport {
  return {
    name: 'main',
    state,
    lastState: {},
    ready: false,
    restartCount: 0,
    image: 'busybox',
    ...extra,
  };
}

function pod(
  status: Partial<PodStatusReport> | undefined,
  containers = 1,
  initContainers = 0,
): unknown {
  const names = (n: number, prefix: string) =>
    Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, image: 'busybox' }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: ago(5 * M + 10 * S) },
    spec: {
      containers: names(containers, 'c'),
      ...(initContainers > 0 ? { initContainers: names(initContainers, 'i') } : {}),
    },
    ...(status === undefined
      ? {}
      : { status: { phase: 'Pending', conditions: [], containerStatuses: [], ...status } }),
  };
}

const READY_CONDITION = { type: 'Ready', status: 'True' } as const;

describe('podStatusText as kubectl STATUS', () => {
  const cases: { name: string; pod: unknown; expected: string }[] = [
    { name: 'no status reported', pod: pod(undefined), expected: 'Unknown' },
    { name: 'pending, nothing started', pod: pod({ phase: 'Pending' }), expected: 'Pending' },
    {
      name: 'running and ready',
      pod: pod({
        phase: 'Running',
        conditions: [READY_CONDITION],
        containerStatuses: [container({ running: { startedAt: ago(M) } }, { ready: true })],
      }),
      expected: 'Running',
    },
    {
      name: 'creating its container',
      pod: pod({ containerStatuses: [container({ waiting: { reason: 'ContainerCreating' } })] }),
      expected: 'ContainerCreating',
    },
    {
      name: 'image pull failing',
      pod: pod({ containerStatuses: [container({ waiting: { reason: 'ErrImagePull' } })] }),
      expected: 'ErrImagePull',
    },
    {
      name: 'crash looping',
      pod: pod({
        phase: 'Running',
        containerStatuses: [container({ waiting: { reason: 'CrashLoopBackOff' } })],
      }),
      expected: 'CrashLoopBackOff',
    },
    {
      name: 'completed',
      pod: pod({
        phase: 'Succeeded',
        containerStatuses: [container({ terminated: { exitCode: 0, reason: 'Completed' } })],
      }),
      expected: 'Completed',
    },
    {
      name: 'failed with Error',
      pod: pod({
        phase: 'Failed',
        containerStatuses: [container({ terminated: { exitCode: 1, reason: 'Error' } })],
      }),
      expected: 'Error',
    },
    {
      name: 'terminated without a reason',
      pod: pod({
        phase: 'Failed',
        containerStatuses: [container({ terminated: { exitCode: 137, reason: '' } })],
      }),
      expected: 'ExitCode:137',
    },
    {
      name: 'one container completed while another serves',
      pod: pod(
        {
          phase: 'Running',
          conditions: [READY_CONDITION],
          containerStatuses: [
            container({ running: { startedAt: ago(M) } }, { name: 'c0', ready: true }),
            container({ terminated: { exitCode: 0, reason: 'Completed' } }, { name: 'c1' }),
          ],
        },
        2,
      ),
      expected: 'Running',
    },
    {
      name: 'pod-level reason wins over the phase',
      pod: pod({ phase: 'Pending', reason: 'FailedCreatePodSandBox' }),
      expected: 'FailedCreatePodSandBox',
    },
    {
      name: 'second init container running',
      pod: pod(
        {
          initContainerStatuses: [
            container({ terminated: { exitCode: 0, reason: 'Completed' } }, { name: 'i0' }),
            container({ running: { startedAt: ago(S) } }, { name: 'i1' }),
          ],
          containerStatuses: [container({ waiting: { reason: 'PodInitializing' } })],
        },
        1,
        2,
      ),
      expected: 'Init:1/2',
    },
    {
      name: 'init container cannot pull',
      pod: pod(
        { initContainerStatuses: [container({ waiting: { reason: 'ErrImagePull' } })] },
        1,
        1,
      ),
      expected: 'Init:ErrImagePull',
    },
    {
      name: 'init container failed',
      pod: pod(
        { initContainerStatuses: [container({ terminated: { exitCode: 1, reason: 'Error' } })] },
        1,
        1,
      ),
      expected: 'Init:Error',
    },
  ];
  for (const { name, pod: input, expected } of cases) {
    it(`${name}: ${expected}`, () => {
      expect(podStatusText(input)).toBe(expected);
    });
  }
});

describe('pods table', () => {
  const running = pod(
    {
      phase: 'Running',
      conditions: [READY_CONDITION],
      podIP: '10.88.0.7',
      containerStatuses: [
        container({ running: { startedAt: ago(M) } }, { name: 'c0', ready: true, restartCount: 2 }),
        container({ waiting: { reason: 'CrashLoopBackOff' } }, { name: 'c1', restartCount: 3 }),
      ],
    },
    2,
  );

  it('READY counts ready containers of the spec, RESTARTS sums them', () => {
    expect(podReadyText(running)).toBe('1/2');
    expect(podRestarts(running)).toBe(5);
    expect(podReadyText(pod(undefined, 3))).toBe('0/3');
  });

  it('prints NAME READY STATUS RESTARTS AGE, and IP NODE under wide', () => {
    expect(podsTable([{ pod: running, node: 'node-a' }], NOW)).toBe(
      [
        'NAME   READY   STATUS             RESTARTS   AGE',
        'web    1/2     CrashLoopBackOff   5          5m10s',
      ].join('\n'),
    );
    expect(podsTable([{ pod: running, node: 'node-a' }, { pod: pod(undefined) }], NOW, true)).toBe(
      [
        'NAME   READY   STATUS             RESTARTS   AGE     IP          NODE',
        'web    1/2     CrashLoopBackOff   5          5m10s   10.88.0.7   node-a',
        'web    0/1     Unknown            0          5m10s   <none>      <none>',
      ].join('\n'),
    );
  });
});

describe('replication controller, service and node tables', () => {
  const readyPod = pod({ phase: 'Running', conditions: [READY_CONDITION] });
  const rc = {
    kind: 'ReplicationController',
    metadata: { name: 'frontend' },
    spec: { replicas: 3, selector: { app: 'web' } },
  };

  it('rc: DESIRED from spec, CURRENT and READY from the pods, AGE from when applied', () => {
    expect(
      replicationControllersTable(
        [{ rc, pods: [readyPod, pod({ phase: 'Pending' })], appliedAt: ago(3 * H) }],
        NOW,
      ),
    ).toBe(
      [
        'NAME       DESIRED   CURRENT   READY   AGE',
        'frontend   3         2         1       3h',
      ].join('\n'),
    );
    const unset = { metadata: { name: 'one' }, spec: {} };
    expect(replicationControllersTable([{ rc: unset, pods: [] }], NOW)).toContain(
      'one    1         0         0       <unknown>',
    );
  });

  it('services: type, cluster IP or <none>, ports with node ports', () => {
    const service = {
      kind: 'Service',
      metadata: { name: 'web', creationTimestamp: ago(2 * D) },
      spec: {
        type: 'NodePort',
        ports: [
          { port: 80, nodePort: 30080, protocol: 'TCP' },
          { port: 53, protocol: 'UDP' },
        ],
      },
    };
    expect(servicePortsText(service)).toBe('80:30080/TCP,53/UDP');
    expect(servicePortsText({ spec: {} })).toBe('<none>');
    expect(servicesTable([{ service }], NOW)).toBe(
      [
        'NAME   TYPE       CLUSTER-IP   PORT(S)               AGE',
        'web    NodePort   <none>       80:30080/TCP,53/UDP   2d',
      ].join('\n'),
    );
    expect(
      servicesTable(
        [
          {
            service: { metadata: { name: 'db' }, spec: { ports: [{ port: 5432 }] } },
            clusterIP: '10.96.0.10',
          },
        ],
        NOW,
      ),
    ).toContain('db     ClusterIP   10.96.0.10   5432/TCP   <unknown>');
  });

  it('nodes: Ready within 40 s of the last heartbeat, capacity as quantities', () => {
    const node = {
      name: 'node-a',
      capacity: { cpu: 2, memoryBytes: 4 * 2 ** 30 },
      registeredAt: ago(2 * D + 4 * H),
      lastHeartbeat: ago(40 * S),
    };
    expect(nodeStatusText(node, NOW)).toBe('Ready');
    expect(nodeStatusText({ ...node, lastHeartbeat: ago(41 * S) }, NOW)).toBe('NotReady');
    expect(nodeStatusText({ name: 'x', capacity: node.capacity, registeredAt: ago(S) }, NOW)).toBe(
      'NotReady',
    );
    expect(
      nodesTable(
        [
          node,
          {
            ...node,
            name: 'b',
            capacity: { cpu: 0.5, memoryBytes: 1536 * 2 ** 20 },
            lastHeartbeat: ago(M),
          },
        ],
        NOW,
      ),
    ).toBe(
      [
        'NAME     STATUS     AGE    CAPACITY',
        'node-a   Ready      2d4h   cpu=2,memory=4Gi',
        'b        NotReady   2d4h   cpu=500m,memory=1536Mi',
      ].join('\n'),
    );
  });

  it('quantities: exact binary units and millicores', () => {
    expect(formatMemory(1000)).toBe('1000');
    expect(formatMemory(2048)).toBe('2Ki');
    expect(formatCpu(1.5)).toBe('1500m');
    expect(formatCpu(4)).toBe('4');
  });

  it('-o json/yaml items are wrapped in a v1 List', () => {
    expect(toV1List([rc])).toEqual({
      apiVersion: 'v1',
      kind: 'List',
      metadata: { resourceVersion: '' },
      items: [rc],
    });
  });
});
