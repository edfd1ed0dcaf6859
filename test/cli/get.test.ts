import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runGet } from '../../operator/cli/get.js';
import { main } from '../../operator/cli/main.js';
import { isBerthError } from '../../operator/model/errors.js';
import { DATABASE_FILE_NAME, openStore } from '../../operator/store/index.js';
import { captureIo } from '../helpers/capture-io.js';
import { runBerth } from '../helpers/run-berth.js';

const S = 1000;
const D = 24 * 60 * 60 * S;

async function get(args: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await main(['get', ...args], io);
  return { status, out: io.out(), err: io.err() };
}

/** Two days back: AGE reads `2d` for the next hour whatever the test's own duration. */
const created = new Date(Date.now() - 2 * D).toISOString();

function rcPod(name: string, status: unknown): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      creationTimestamp: created,
      labels: { app: 'web' },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ReplicationController', name: 'frontend', controller: true },
      ],
    },
    spec: { containers: [{ name: 'main', image: 'nginx' }] },
    ...(status === undefined ? {} : { status }),
  };
}

const runningStatus = {
  phase: 'Running',
  podIP: '10.88.0.5',
  conditions: [{ type: 'Ready', status: 'True' }],
  containerStatuses: [
    {
      name: 'main',
      state: { running: { startedAt: created } },
      lastState: {},
      ready: true,
      restartCount: 1,
      image: 'nginx',
    },
  ],
};

const pullingStatus = {
  phase: 'Pending',
  conditions: [],
  containerStatuses: [
    {
      name: 'main',
      state: { waiting: { reason: 'ErrImagePull' } },
      lastState: {},
      ready: false,
      restartCount: 0,
      image: 'nginx',
    },
  ],
};

let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-get-'));
  const store = openStore(dataDir);
  try {
    const now = new Date().toISOString();
    store.recordApplied(
      'guestbook',
      [
        {
          ref: { kind: 'ReplicationController', namespace: 'default', name: 'frontend' },
          applied: {
            apiVersion: 'v1',
            kind: 'ReplicationController',
            metadata: { name: 'frontend', namespace: 'default', creationTimestamp: created },
            spec: { replicas: 3, selector: { app: 'web' }, template: {} },
          },
        },
        {
          ref: { kind: 'Service', namespace: 'default', name: 'frontend' },
          applied: {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'frontend', namespace: 'default', creationTimestamp: created },
            spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] },
          },
        },
        {
          ref: { kind: 'Service', namespace: 'other', name: 'hidden' },
          applied: {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'hidden', namespace: 'other', creationTimestamp: created },
          },
        },
      ],
      now,
    );
    // The same RC in a second source's inventory still shows once.
    const [firstRc] = store.inventory('guestbook');
    if (firstRc !== undefined) store.recordApplied('mirror', [firstRc], now);
    store.allocate('clusterIP', 'Service/default/frontend', ['10.96.0.20'], now);
    store.upsertNode({
      name: 'node-a',
      labels: {},
      capacity: { cpu: 2, memoryBytes: 4 * 2 ** 30 },
      registeredAt: created,
    });
    store.upsertNode({
      name: 'node-b',
      labels: {},
      capacity: { cpu: 1.5, memoryBytes: 512 * 2 ** 20 },
      registeredAt: created,
    });
    store.recordHeartbeat('node-a', new Date().toISOString());
    store.recordHeartbeat('node-b', new Date(Date.now() - 5 * 60 * S).toISOString());
    store.putAssignments([
      {
        podKey: 'default/frontend-aaaaa',
        node: 'node-a',
        pod: rcPod('frontend-aaaaa', runningStatus),
      },
      {
        podKey: 'default/frontend-bbbbb',
        node: 'node-b',
        pod: rcPod('frontend-bbbbb', pullingStatus),
      },
      // Not scheduled yet: the engine stores an empty node name.
      { podKey: 'default/frontend-ccccc', node: '', pod: rcPod('frontend-ccccc', undefined) },
    ]);
  } finally {
    store.close();
  }
});

/** A fresh heartbeat for node-a, so its Ready does not depend on how long the suite took. */
function beatNodeA(): void {
  const store = openStore(dataDir);
  try {
    store.recordHeartbeat('node-a', new Date().toISOString());
  } finally {
    store.close();
  }
}

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('berth get reads the operator store', () => {
  it('pods: status from the last report, Unknown without one', async () => {
    const run = await get(['pods', '--data-dir', dataDir]);
    expect(run.err).toBe('');
    expect(run.status).toBe(0);
    expect(run.out).toBe(
      [
        'NAME             READY   STATUS         RESTARTS   AGE',
        'frontend-aaaaa   1/1     Running        1          2d',
        'frontend-bbbbb   0/1     ErrImagePull   0          2d',
        'frontend-ccccc   0/1     Unknown        0          2d',
        '',
      ].join('\n'),
    );
  });

  it('pods -o wide adds IP and NODE', async () => {
    const run = await get(['po', '-o', 'wide', '--data-dir', dataDir]);
    expect(run.status).toBe(0);
    expect(run.out.split('\n')[0]).toBe(
      'NAME             READY   STATUS         RESTARTS   AGE   IP          NODE',
    );
    expect(run.out).toContain(
      'frontend-aaaaa   1/1     Running        1          2d    10.88.0.5   node-a',
    );
    expect(run.out).toContain(
      'frontend-bbbbb   0/1     ErrImagePull   0          2d    <none>      node-b',
    );
    expect(run.out).toContain(
      'frontend-ccccc   0/1     Unknown        0          2d    <none>      <none>',
    );
  });

  it('rc: DESIRED from spec, CURRENT and READY from the assigned pods', async () => {
    const run = await get(['rc', '--data-dir', dataDir]);
    expect(run.status).toBe(0);
    expect(run.out).toBe(
      [
        'NAME       DESIRED   CURRENT   READY   AGE',
        'frontend   3         3         1       2d',
        '',
      ].join('\n'),
    );
  });

  it('services of the namespace with their allocated cluster IP', async () => {
    const run = await get(['svc', '--data-dir', dataDir]);
    expect(run.status).toBe(0);
    expect(run.out).toBe(
      [
        'NAME       TYPE       CLUSTER-IP   PORT(S)        AGE',
        'frontend   NodePort   10.96.0.20   80:30080/TCP   2d',
        '',
      ].join('\n'),
    );
    const other = await get(['services', '-n', 'other', '--data-dir', dataDir]);
    expect(other.out).toContain('hidden   ClusterIP   <none>       <none>    2d');
    expect(other.out).not.toContain('frontend');
  });

  it('nodes: NotReady once the heartbeat is older than 40 s', async () => {
    beatNodeA();
    const run = await get(['nodes', '--data-dir', dataDir]);
    expect(run.status).toBe(0);
    expect(run.out).toBe(
      [
        'NAME     STATUS     AGE   CAPACITY',
        'node-a   Ready      2d    cpu=2,memory=4Gi',
        'node-b   NotReady   2d    cpu=1500m,memory=512Mi',
        '',
      ].join('\n'),
    );
  });

  it('-o json and -o yaml print a v1 List of the objects', async () => {
    const json = await get(['rc', '-o', 'json', '--data-dir', dataDir]);
    expect(json.status).toBe(0);
    const list = JSON.parse(json.out) as {
      kind: string;
      apiVersion: string;
      items: { metadata: { name: string } }[];
    };
    expect(list.kind).toBe('List');
    expect(list.apiVersion).toBe('v1');
    expect(list.items.map((item) => item.metadata.name)).toEqual(['frontend']);

    const yaml = await get(['nodes', '-o', 'yaml', '--data-dir', dataDir]);
    const nodes = parseYaml(yaml.out) as {
      kind: string;
      items: { kind: string; metadata: { name: string } }[];
    };
    expect(nodes.kind).toBe('List');
    expect(nodes.items.map((item) => [item.kind, item.metadata.name])).toEqual([
      ['Node', 'node-a'],
      ['Node', 'node-b'],
    ]);
  });

  it('an empty namespace says No resources found', async () => {
    const run = await get(['pods', '-n', 'nothing-here', '--data-dir', dataDir]);
    expect(run.status).toBe(0);
    expect(run.out).toBe('');
    expect(run.err).toBe('No resources found in nothing-here namespace.\n');
  });

  it('a data dir without a store is read as empty and not created', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-get-empty-'));
    try {
      const run = await get(['rc', '--data-dir', empty]);
      expect(run.status).toBe(0);
      expect(run.err).toBe('No resources found in default namespace.\n');
      expect(existsSync(path.join(empty, DATABASE_FILE_NAME))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2', async () => {
    const unknown = await get(['deployments', '--data-dir', dataDir]);
    expect(unknown.status).toBe(2);
    expect(unknown.err).toContain('unknown resource type "deployments"');
    const format = await get(['pods', '-o', 'xml', '--data-dir', dataDir]);
    expect(format.status).toBe(2);
    expect(format.err).toContain('unknown output format "xml"');
  });
});

describe('berth get while an operator holds the data dir', () => {
  it('says so and exits 2 (the built command, in its own process)', () => {
    const store = openStore(dataDir);
    try {
      const run = runBerth(['get', 'pods', '--data-dir', dataDir]);
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(
        `data dir ${dataDir} is in use by another berth operator (pid ${process.pid})`,
      );
      expect(run.stderr).toContain('a berth apply is running on it right now');
      expect(run.stderr).toContain('hint: retry when it finishes, or run `berth serve');
    } finally {
      store.close();
    }
    beatNodeA();
    const after = runBerth(['get', 'nodes', '--data-dir', dataDir]);
    expect(after.status).toBe(0);
    expect(after.stdout).toContain('node-a   Ready');
  });
});

describe('berth get --server', () => {
  it('exits 2 with SERVER_UNREACHABLE when nothing listens there', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port');
    const url = `http://127.0.0.1:${address.port}`;

    const args = ['pods', '--server', url, '--token', 't', '--data-dir', dataDir];
    const error = await runGet(args, captureIo()).catch((e: unknown) => e);
    expect(isBerthError(error) && error.code).toBe('SERVER_UNREACHABLE');
    const run = await get(args);
    expect(run.status).toBe(2);
    expect(run.out).toBe('');
    expect(run.err).toContain(url);
  });
});

describe('berth get endpoints', () => {
  it('lists the ready pods behind each service at their target port, as kubectl does', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-get-ep-'));
    try {
      const store = openStore(dir);
      const now = new Date().toISOString();
      store.recordApplied(
        'shop',
        [
          {
            ref: { kind: 'Service', namespace: 'default', name: 'web' },
            applied: {
              apiVersion: 'v1',
              kind: 'Service',
              metadata: { name: 'web', namespace: 'default', creationTimestamp: created },
              spec: {
                type: 'LoadBalancer',
                selector: { app: 'web' },
                ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
              },
            },
          },
        ],
        now,
      );
      store.allocate('clusterIP', 'Service/default/web', ['10.96.0.7'], now);
      store.allocate('nodePort', 'Service/default/web#http', ['30111'], now);
      const pod = (name: string, ip: string, ready: boolean) => ({
        podKey: `default/${name}`,
        node: 'node-a',
        pod: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'default', labels: { app: 'web' }, uid: name },
          spec: { containers: [{ name: 'c', image: 'x' }] },
          status: {
            phase: 'Running',
            podIP: ip,
            conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
          },
        },
      });
      store.putAssignments([
        pod('web-a', '172.17.0.4', true),
        pod('web-b', '172.17.0.2', true),
        pod('web-c', '172.17.0.3', true),
        pod('web-d', '172.17.0.5', true),
        pod('web-e', '172.17.0.6', false),
      ]);
      store.close();

      const run = await get(['ep', '--data-dir', dir]);
      expect(run.status).toBe(0);
      expect(run.out).toBe(
        [
          'NAME   ENDPOINTS                                                     AGE',
          'web    172.17.0.2:8080,172.17.0.3:8080,172.17.0.4:8080 + 1 more...   2d',
          '',
        ].join('\n'),
      );
      const yaml = parseYaml((await get(['endpoints', '-o', 'yaml', '--data-dir', dir])).out);
      expect(yaml.items[0].subsets[0].addresses.map((a: { ip: string }) => a.ip)).toEqual([
        '172.17.0.2',
        '172.17.0.3',
        '172.17.0.4',
        '172.17.0.5',
      ]);
      expect(yaml.items[0].subsets[0].ports).toEqual([
        { name: 'http', port: 8080, protocol: 'TCP' },
      ]);

      // The service shows its node port, and says a LoadBalancer is node ports here.
      const svc = await get(['svc', '--data-dir', dir]);
      expect(svc.out).toContain('web    LoadBalancer   10.96.0.7    80:30111/TCP');
      const svcYaml = parseYaml((await get(['svc', '-o', 'yaml', '--data-dir', dir])).out);
      expect(svcYaml.items[0].spec.clusterIP).toBe('10.96.0.7');
      expect(svcYaml.items[0].status.conditions[0].message).toContain('node ports on every node');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
