/**
 * `DELETE /api/v1/apps/:app` through connectDaemon on `berth serve`'s server (real store in a
 * temp data dir, a container-less local agent, an app on a local git repository): without prune
 * the app's objects stay; with `?prune=true` its RC (and pods), service and bare pod go in one
 * pass, a `berth.io/prune: disabled` pod is kept and said so, the service's node port is free
 * for another app, and the app is forgotten.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectDaemon, connectOperatorServer } from '../../operator/api/operator-client.js';
import { loadManifests } from '../../operator/manifests/load.js';
import { isBerthError } from '../../operator/model/errors.js';
import { type OperatorServer, startOperatorServer } from '../../operator/operator/server.js';
import { createSourceReader } from '../../operator/source/index.js';
import { FakeNodeAgent } from '../agent/fake-node-agent.js';
import { commitFiles, initRepo, podYaml, writeTree } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }
}

const NODE_PORT = 31234;

const RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: main
          image: busybox:1.36
`;

function serviceYaml(name: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  type: NodePort
  selector: {app: web}
  ports:
    - port: 80
      nodePort: ${NODE_PORT}
`;
}

const KEPT = `apiVersion: v1
kind: Pod
metadata:
  name: keeper
  annotations:
    berth.io/prune: disabled
spec:
  containers:
    - name: main
      image: busybox:1.36
`;

let dir: string;
let server: OperatorServer | undefined;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-app-remove-'));
  server = await startOperatorServer({
    dataDir: path.join(dir, 'data'),
    listen: { host: '127.0.0.1', port: 0 },
    nodeName: 'local',
    createAgent: async () => new FakeLocalAgent(),
    watch: false,
  });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await fsp.rm(dir, { recursive: true, force: true });
});

function running(): OperatorServer {
  if (server === undefined) throw new Error('no server');
  return server;
}

/** Adds `shop` (RC of 2, NodePort service, bare pod, kept pod) and waits for its 4 pods. */
async function addShop(): Promise<ReturnType<typeof connectDaemon>> {
  const repo = initRepo(path.join(dir, 'shop'));
  commitFiles(
    repo,
    {
      'rc.yaml': RC,
      'svc.yaml': serviceYaml('web'),
      'pod.yaml': podYaml('solo'),
      'kept.yaml': KEPT,
    },
    'shop',
  );
  const daemon = connectDaemon({ url: running().url, token: running().token });
  await daemon.addApp({ name: 'shop', source: repo });
  await waitFor(async () => {
    const status = await daemon.app('shop');
    return status.sync === 'Synced' && (await daemon.read()).assignments.length === 4;
  }, 'shop synced with 4 pods');
  return daemon;
}

/** A sync of app `other`: a service asking for the same node port. */
async function syncOther() {
  const folder = path.join(dir, 'other');
  writeTree(folder, { 'svc.yaml': serviceYaml('other-web') });
  const snapshot = await createSourceReader().open({ location: folder });
  const set = await loadManifests(snapshot.files);
  expect(set.problems).toEqual([]);
  return connectOperatorServer({ url: running().url, token: running().token }).sync({
    app: 'other',
    source: folder,
    objects: set.objects,
  });
}

describe('app removal with prune', () => {
  it('deletes what the app applied, keeps prune: disabled, frees its node port and forgets it', async () => {
    const daemon = await addShop();
    const before = await daemon.read();
    const rcPods = before.assignments
      .map((a) => a.podKey)
      .filter((key) => key.startsWith('default/web-'));
    expect(rcPods).toHaveLength(2);
    expect(before.allocations.filter((a) => a.kind === 'nodePort')).toMatchObject([
      { value: String(NODE_PORT), owner: expect.stringContaining('Service/default/web') },
    ]);
    // While shop holds the node port, another app cannot have it.
    const refused = await syncOther();
    expect(refused.refused?.message).toContain(String(NODE_PORT));

    const removal = await daemon.removeApp('shop', { prune: true });
    const names = removal.deleted.map((ref) => `${ref.kind}/${ref.name}`);
    expect(names.slice(0, 3)).toEqual(['ReplicationController/web', 'Pod/solo', 'Service/web']);
    expect(names.slice(3).sort()).toEqual(rcPods.map((key) => `Pod/${key.slice(8)}`).sort());
    expect(removal.kept).toEqual([
      {
        ref: { kind: 'Pod', namespace: 'default', name: 'keeper' },
        reason: 'berth.io/prune: disabled',
      },
    ]);

    const after = await daemon.read();
    expect(after.assignments.map((a) => a.podKey)).toEqual(['default/keeper']);
    // The node drops the deleted pods once it has its new set (what berth app remove waits for).
    await waitFor(
      async () => (await daemon.read()).podsOnNodes.join() === 'default/keeper',
      'only the kept pod left on the node',
    );
    expect(after.allocations).toEqual([]);
    expect(after.apps).toEqual([
      { name: 'shop', objects: [expect.objectContaining({ key: 'Pod/default/keeper' })] },
    ]);
    expect(await daemon.apps()).toEqual([]);
    expect(running().operator.store.app('shop')).toBeUndefined();

    // The node port is free: another app takes it.
    const other = await syncOther();
    expect(other.refused).toBeUndefined();
    expect((await daemon.read()).allocations.filter((a) => a.kind === 'nodePort')).toMatchObject([
      { value: String(NODE_PORT), owner: expect.stringContaining('Service/default/other-web') },
    ]);
    // The kept pod still runs after later passes: it stays in the inventory of shop.
    running().operator.engine.reconcile();
    expect((await daemon.read()).assignments.map((a) => a.podKey)).toEqual(['default/keeper']);
  });

  it('without prune leaves everything running; prune later deletes it (by its inventory)', async () => {
    const daemon = await addShop();
    const removal = await daemon.removeApp('shop');
    expect(removal).toEqual({ removed: true, deleted: [], kept: [] });
    expect(await daemon.apps()).toEqual([]);
    expect((await daemon.read()).assignments).toHaveLength(4);

    const pruned = await daemon.removeApp('shop', { prune: true });
    expect(pruned.deleted.filter((ref) => ref.kind === 'Pod')).toHaveLength(3);
    expect(pruned.kept.map((entry) => entry.ref.name)).toEqual(['keeper']);
    expect((await daemon.read()).assignments.map((a) => a.podKey)).toEqual(['default/keeper']);
  });

  it('answers an unknown app with 404 and a bad prune value with 400', async () => {
    const daemon = connectDaemon({ url: running().url, token: running().token });
    const unknown = await daemon
      .removeApp('nope', { prune: true })
      .catch((error: unknown) => error);
    expect(isBerthError(unknown) && unknown.code).toBe('APP_NOT_FOUND');
    const raw = await fetch(`${running().url}/api/v1/apps/nope?prune=maybe`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${running().token}` },
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ code: 'CLI_USAGE' });
  });
});
