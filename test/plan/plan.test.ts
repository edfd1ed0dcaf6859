import { describe, expect, it } from 'vitest';
import {
  type DesiredObject,
  isPlanRefusal,
  type LiveObject,
  planChanges,
} from '../../operator/plan/plan.js';
import type { Plan, PlanOptions, PlanRefusal } from '../../operator/plan/types.js';
import { applied, keyOf, pod, rc, service, want } from './objects.js';

function plan(
  desired: DesiredObject[],
  live: LiveObject[],
  inventory: string[],
  options: Partial<PlanOptions> = {},
): Plan {
  const result = planChanges(desired, live, new Set(inventory), options);
  if (isPlanRefusal(result)) throw new Error(`unexpected refusal: ${result.message}`);
  return result;
}

function refuse(desired: DesiredObject[], live: LiveObject[], inventory: string[]): PlanRefusal {
  const result = planChanges(desired, live, new Set(inventory));
  if (!isPlanRefusal(result)) throw new Error('expected a refusal');
  return result;
}

const rows = (p: Plan) =>
  p.changes.map((c) => `${c.action} ${c.ref.kind}/${c.ref.name}: ${c.reason}`);

describe('planChanges: one action per case, with its reason', () => {
  const cases: {
    name: string;
    desired: DesiredObject[];
    live: LiveObject[];
    inventory: string[];
    expected: string[];
  }[] = [
    {
      name: 'a new object is created',
      desired: [want(pod('web'))],
      live: [],
      inventory: [],
      expected: ['create Pod/web: new in git'],
    },
    {
      name: 'an inventory object missing live is created again',
      desired: [want(pod('web'))],
      live: [],
      inventory: [keyOf('Pod', 'web')],
      expected: ['create Pod/web: missing live (removed outside berth)'],
    },
    {
      name: 'an applied object with server fields and status is unchanged',
      desired: [want(pod('web')), want(rc('api')), want(service('api'))],
      live: [applied(pod('web'), 0), applied(rc('api'), 1), applied(service('api'), 2)],
      inventory: [
        keyOf('Pod', 'web'),
        keyOf('ReplicationController', 'api'),
        keyOf('Service', 'api'),
      ],
      expected: [
        'unchanged Service/api: in sync',
        'unchanged ReplicationController/api: in sync',
        'unchanged Pod/web: in sync',
      ],
    },
    {
      name: 'a pod whose image changed is replaced',
      desired: [want(pod('web', 'nginx:1.26'))],
      live: [applied(pod('web', 'nginx:1.25'))],
      inventory: [keyOf('Pod', 'web')],
      expected: [
        'replace Pod/web: spec.containers[0].image: nginx:1.25 → nginx:1.26 (a pod spec cannot change in place: delete and create)',
      ],
    },
    {
      name: 'a pod whose labels changed is updated in place',
      desired: [
        want({ ...pod('web'), metadata: { name: 'web', labels: { app: 'web', tier: 'front' } } }),
      ],
      live: [applied(pod('web'))],
      inventory: [keyOf('Pod', 'web')],
      expected: ['update Pod/web: metadata.labels.tier: (unset) → front'],
    },
    {
      name: 'an RC whose template image changed is updated in place',
      desired: [want(rc('api', 'nginx:1.25'))],
      live: [applied(rc('api', 'nginx:1.24'))],
      inventory: [keyOf('ReplicationController', 'api')],
      expected: [
        'update ReplicationController/api: spec.template.spec.containers[0].image: nginx:1.24 → nginx:1.25',
      ],
    },
    {
      name: 'an RC scaled in git is updated',
      desired: [want(rc('api', 'nginx:1.25', 5))],
      live: [applied(rc('api', 'nginx:1.25', 2))],
      inventory: [keyOf('ReplicationController', 'api')],
      expected: ['update ReplicationController/api: spec.replicas: 2 → 5'],
    },
    {
      name: 'a service whose port changed is updated in place',
      desired: [want(service('api', 8080))],
      live: [applied(service('api', 80))],
      inventory: [keyOf('Service', 'api')],
      expected: [
        'update Service/api: spec.ports[0].port: 80 → 8080; spec.ports[0].targetPort: 80 → 8080',
      ],
    },
    {
      name: 'a service whose written cluster IP changed is replaced',
      desired: [want(service('api', 80, '10.96.0.50'))],
      live: [applied(service('api', 80, '10.96.0.9'))],
      inventory: [keyOf('Service', 'api')],
      expected: [
        'replace Service/api: spec.clusterIP: 10.96.0.9 → 10.96.0.50 (a service cluster IP cannot change in place: delete and create)',
      ],
    },
    {
      name: 'an object that left git is deleted',
      desired: [want(pod('web'))],
      live: [applied(pod('web')), applied(pod('old'))],
      inventory: [keyOf('Pod', 'web'), keyOf('Pod', 'old')],
      expected: ['unchanged Pod/web: in sync', 'delete Pod/old: left git'],
    },
  ];
  for (const row of cases) {
    it(row.name, () => {
      expect(rows(plan(row.desired, row.live, row.inventory))).toEqual(row.expected);
    });
  }

  it('carries the desired and live objects and where the desired one was written', () => {
    const result = plan(
      [want(pod('web', 'nginx:1.26'), 7)],
      [applied(pod('web'))],
      [keyOf('Pod', 'web')],
    );
    const [change] = result.changes;
    expect(change?.origin).toEqual({ file: 'app.yaml', line: 7, column: 1 });
    expect(change?.desired?.spec).toMatchObject({ containers: [{ image: 'nginx:1.26' }] });
    expect(change?.live?.spec).toMatchObject({ containers: [{ image: 'nginx:1.25' }] });
    // Server-made fields never reach the plan.
    expect(change?.live?.metadata.uid).toBeUndefined();
    expect(change?.live).not.toHaveProperty('status');
  });

  it('names many changed fields briefly', () => {
    const changed = pod('web');
    changed.spec.containers[0] = {
      name: 'app',
      image: 'nginx:1.26',
      args: ['-a', '-b', '-c'],
      workingDir: '/srv',
      env: [{ name: 'A', value: '1' }],
      ports: [{ containerPort: 80 }],
      resources: { limits: { cpu: '2', memory: '2Gi' } },
    };
    const [change] = plan([want(changed)], [applied(pod('web'))], [keyOf('Pod', 'web')]).changes;
    expect(change?.action).toBe('replace');
    expect(change?.reason).toMatch(/; and \d+ more \(a pod spec/);
  });
});

describe('planChanges: order', () => {
  it('puts services first, then controllers and pods, deletions last', () => {
    const result = plan(
      [want(pod('b-pod')), want(rc('a-rc')), want(service('z-svc')), want(pod('a-pod'))],
      [
        applied(service('gone-svc')),
        applied(rc('gone-rc')),
        applied(pod('gone-pod')),
        applied(pod('keep')),
      ],
      [
        keyOf('Service', 'gone-svc'),
        keyOf('ReplicationController', 'gone-rc'),
        keyOf('Pod', 'gone-pod'),
        keyOf('Pod', 'keep'),
      ],
    );
    expect(result.changes.map((c) => `${c.action} ${c.ref.kind}/${c.ref.name}`)).toEqual([
      'create Service/z-svc',
      'create ReplicationController/a-rc',
      'create Pod/a-pod',
      'create Pod/b-pod',
      'delete ReplicationController/gone-rc',
      'delete Pod/gone-pod',
      'delete Pod/keep',
      'delete Service/gone-svc',
    ]);
    expect(result.summary).toEqual({ create: 4, update: 0, replace: 0, delete: 4, unchanged: 0 });
  });

  it('orders by namespace then name within a kind', () => {
    const other = pod('a');
    other.metadata.namespace = 'zeta';
    const result = plan([want(other), want(pod('b')), want(pod('a'))], [], []);
    expect(result.changes.map((c) => `${c.ref.namespace}/${c.ref.name}`)).toEqual([
      'default/a',
      'default/b',
      'zeta/a',
    ]);
  });
});

describe('planChanges: prune and its guards', () => {
  const live = [applied(pod('web')), applied(pod('old'))];
  const inventory = [keyOf('Pod', 'web'), keyOf('Pod', 'old')];

  it('keeps an object annotated berth.io/prune: disabled', () => {
    const kept = pod('old');
    kept.metadata.annotations = { 'berth.io/prune': 'disabled' };
    const result = plan([want(pod('web'))], [applied(pod('web')), applied(kept)], inventory);
    expect(rows(result)).toEqual([
      'unchanged Pod/old: left git; kept by berth.io/prune: disabled',
      'unchanged Pod/web: in sync',
    ]);
  });

  it('deletes nothing with prune off', () => {
    const result = plan([want(pod('web'))], live, inventory, { prune: false });
    expect(rows(result)).toContain('unchanged Pod/old: left git; kept (prune is off)');
    expect(result.summary.delete).toBe(0);
  });

  it('never touches objects outside the inventory', () => {
    const foreign = [applied(pod('theirs')), applied(pod('web'))];
    const result = plan([want(pod('web', 'nginx:1.26'))], foreign, []);
    expect(result.changes).toEqual([]);
    expect(result.conflicts?.map((c) => c.ref.name)).toEqual(['web']);
    expect(result.conflicts?.[0]?.reason).toMatch(/not created by berth/);
  });

  it('refuses a plan that deletes every object of the source', () => {
    const refusal = refuse([], live, inventory);
    expect(refusal.code).toBe('PLAN_DELETES_EVERYTHING');
    expect(refusal.message).toMatch(/all 2 objects.*--allow-empty/);
    expect(refusal.deletions.map((r) => r.name).sort()).toEqual(['old', 'web']);
  });

  it('allows it with allowEmpty', () => {
    const result = plan([], live, inventory, { allowEmpty: true });
    expect(result.summary.delete).toBe(2);
  });

  it('does not refuse when a kept object remains', () => {
    const kept = pod('old');
    kept.metadata.annotations = { 'berth.io/prune': 'disabled' };
    const result = plan([], [applied(pod('web')), applied(kept)], inventory);
    expect(rows(result)).toEqual([
      'unchanged Pod/old: left git; kept by berth.io/prune: disabled',
      'delete Pod/web: left git',
    ]);
  });

  it('an empty source with nothing live is an empty plan, not a refusal', () => {
    expect(plan([], [], []).changes).toEqual([]);
  });
});

describe('planChanges: the empty-source guard counts what remains', () => {
  it('allows replacing every object by new ones (renames)', () => {
    const result = plan(
      [want(pod('new-name'))],
      [applied(pod('old-name'))],
      [keyOf('Pod', 'old-name')],
    );
    expect(rows(result)).toEqual([
      'create Pod/new-name: new in git',
      'delete Pod/old-name: left git',
    ]);
  });

  it('ignores live objects of other sources when counting', () => {
    const result = planChanges([], [applied(pod('theirs'))], new Set<string>());
    expect(isPlanRefusal(result)).toBe(false);
  });
});

describe('planChanges: a name defined twice', () => {
  it('plans the first and reports the second', () => {
    const result = plan([want(pod('web'), 1), want(pod('web', 'nginx:1.26'), 9)], [], []);
    expect(rows(result)).toEqual(['create Pod/web: new in git']);
    expect(result.changes[0]?.desired?.spec).toMatchObject({
      containers: [{ image: 'nginx:1.25' }],
    });
    expect(result.conflicts).toEqual([
      {
        ref: { kind: 'Pod', namespace: 'default', name: 'web' },
        reason: 'Pod/default/web is defined more than once; the first one counts',
        origin: { file: 'app.yaml', line: 9, column: 1 },
      },
    ]);
  });

  it('adding a sidecar replaces a pod, naming just the sidecar', () => {
    const withSidecar = pod('web');
    withSidecar.spec.containers.unshift({ name: 'side', image: 'busybox:1.36' });
    const [change] = plan(
      [want(withSidecar)],
      [applied(pod('web'))],
      [keyOf('Pod', 'web')],
    ).changes;
    expect(change?.action).toBe('replace');
    expect(change?.reason).toMatch(
      /^spec\.containers\[0\]: \(unset\) → side \{"image":"busybox:1\.36"/,
    );
    expect(change?.reason).toMatch(/\(a pod spec cannot change in place: delete and create\)$/);
  });
});
