/**
 * The operator API as `berth serve` answers it: a server with a real store (temp data dir), the
 * API and node endpoint on one loopback port, and a container-less local agent. Client calls go
 * through connectOperatorServer, as the commands make them.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachToOperator } from '../../operator/agent/attach.js';
import { createNodeClient } from '../../operator/api/node-client.js';
import { connectOperatorServer } from '../../operator/api/operator-client.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import { type BerthError, isBerthError } from '../../operator/model/errors.js';
import { type OperatorServer, startOperatorServer } from '../../operator/operator/server.js';
import type { SyncRequest } from '../../operator/operator/session.js';
import { FakeNodeAgent, waitFor } from '../agent/fake-node-agent.js';

class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }
}

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

const APP = load(`apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers: [{name: c, image: busybox:1}]
`);

let dataDir: string;
let server: OperatorServer | undefined;
let agent: FakeLocalAgent;

beforeEach(async () => {
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-api-'));
  agent = new FakeLocalAgent();
  server = await startOperatorServer({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    nodeName: 'local',
    createAgent: async () => agent,
  });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await fsp.rm(dataDir, { recursive: true, force: true });
});

function running(): OperatorServer {
  if (server === undefined) throw new Error('no server');
  return server;
}

function request(overrides: Partial<SyncRequest> = {}): SyncRequest {
  return { app: 'web', source: '/srv/web', objects: APP, ...overrides };
}

async function failure(promise: Promise<unknown>): Promise<BerthError> {
  try {
    await promise;
  } catch (error) {
    if (isBerthError(error)) return error;
    throw error;
  }
  throw new Error('expected a BerthError, got success');
}

describe('operator API', () => {
  it('syncs through the client session and reads back apps, pods and the node', async () => {
    const session = connectOperatorServer({ url: running().url, token: running().token });
    expect(session.where).toBe(running().url);
    expect(await running().operator.nodeReady(10_000)).toBe(true);

    const result = await session.sync(request({ commit: 'abc123' }));
    expect(result.refused).toBeUndefined();
    expect(result.reports.filter((r) => r.action === 'create').map((r) => r.ref.name)).toEqual(
      expect.arrayContaining(['web', 'solo']),
    );
    await waitFor(() => agent.desiredNames().length === 3, 'three pods on the local agent');

    const readout = await waitFor(async () => {
      const read = await session.read();
      return read.podsOnNodes.length === 3 && read.nodes[0]?.pods.length === 3 ? read : undefined;
    }, 'a readout with the reported pods');
    expect(readout.apps.map((app) => app.name)).toEqual(['web']);
    expect(readout.apps[0]?.objects.map((entry) => entry.key)).toEqual([
      'Pod/default/solo',
      'ReplicationController/default/web',
    ]);
    expect(readout.assignments.map((a) => a.node)).toEqual(['local', 'local', 'local']);
    expect(readout.nodes.map((n) => [n.name, n.ready])).toEqual([['local', true]]);
    expect(readout.podsOnNodes).toContain('default/solo');

    // What the server stored: the app record, its sync history and the node registry.
    const store = running().operator.store;
    expect(store.app('web')?.source).toBe('/srv/web');
    expect(store.nodes().map((n) => n.name)).toEqual(['local']);
    expect(store.nodes()[0]?.lastHeartbeat).toBeDefined();

    // The same sync again changes nothing.
    const again = await session.sync(request({ commit: 'abc123' }));
    expect(
      again.reports
        .filter((r) => r.ref.kind !== 'Pod' || r.ref.name === 'solo')
        .map((r) => r.action),
    ).toEqual(['unchanged', 'unchanged']);
  });

  it('turns a server BerthError back into the same code, message and hint', async () => {
    const session = connectOperatorServer({ url: running().url, token: running().token });
    await session.sync(request());
    const conflict = await failure(session.sync(request({ source: '/srv/other' })));
    expect(conflict.code).toBe('APP_SOURCE_CONFLICT');
    expect(conflict.message).toBe('app web is applied from /srv/web, not /srv/other');
    expect(conflict.hint).toContain('--app NAME');

    const badName = await failure(session.sync(request({ app: 'Not_A_Name' })));
    expect(badName.code).toBe('APP_NAME_INVALID');

    const response = await fetch(`${running().url}/api/v1/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${running().token}` },
      body: JSON.stringify(request({ source: '/srv/other' })),
    });
    expect(response.status).toBe(409);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['code', 'hint', 'message']);
  });

  it('refuses requests without the token, or with a wrong one', async () => {
    const url = running().url;
    const bare = await fetch(`${url}/api/v1/readout`);
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { code: string }).code).toBe('API_UNAUTHORIZED');
    const noSync = await fetch(`${url}/api/v1/sync`, {
      method: 'POST',
      body: JSON.stringify(request()),
    });
    expect(noSync.status).toBe(401);

    const wrong = connectOperatorServer({ url, token: 'not-the-token', tokenFrom: '--token' });
    const refusedRead = await failure(wrong.read());
    expect(refusedRead.code).toBe('API_UNAUTHORIZED');
    expect(refusedRead.hint).toContain('--token');
    expect((await failure(wrong.sync(request()))).code).toBe('API_UNAUTHORIZED');
    // Nothing was synced by the refused calls.
    expect(running().operator.store.app('web')).toBeUndefined();
  });

  it('answers health without a token, and bad requests with JSON errors', async () => {
    const url = running().url;
    const health = await fetch(`${url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, pid: process.pid, dataDir });

    const auth = { authorization: `Bearer ${running().token}` };
    const notJson = await fetch(`${url}/api/v1/sync`, {
      method: 'POST',
      headers: auth,
      body: '{not json',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { code: string }).code).toBe('SERVER_BAD_REQUEST');

    const badObject = await fetch(`${url}/api/v1/sync`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ app: 'web', source: '/s', objects: [{ kind: 'Secret', object: {} }] }),
    });
    expect(badObject.status).toBe(400);
    const badBody = (await badObject.json()) as { code: string; message: string };
    expect(badBody.code).toBe('SERVER_BAD_REQUEST');
    expect(badBody.message).toContain('objects[0].kind');
    expect(JSON.stringify(badBody)).not.toContain('    at ');

    const wrongMethod = await fetch(`${url}/api/v1/sync`, { headers: auth });
    expect(wrongMethod.status).toBe(405);
    const unknown = await fetch(`${url}/api/v1/nothing`, { headers: auth });
    expect(unknown.status).toBe(404);

    // The node protocol still answers on the same port.
    const nodes = await fetch(`${url}/v1/nodes/local/pods?timeoutSeconds=0`, { headers: auth });
    expect(nodes.status).toBe(200);
  });

  it('says no server answers, naming the URL and how to start one', async () => {
    const url = running().url;
    await running().close();
    server = undefined;
    const gone = await failure(connectOperatorServer({ url, token: 't' }).read());
    expect(gone.code).toBe('SERVER_UNREACHABLE');
    expect(gone.message).toContain(url);
    expect(gone.hint).toContain('berth serve');
  });
});

describe('a server without a local agent', () => {
  it('places pods on a remote agent attached to its port, and keeps the node in the store', async () => {
    await running().close();
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-api-remote-'));
    const remote = new FakeNodeAgent();
    let started: OperatorServer | undefined;
    let stopAttachment: (() => Promise<void>) | undefined;
    try {
      started = await startOperatorServer({
        dataDir: dir,
        listen: { host: '127.0.0.1', port: 0 },
        nodeName: 'unused',
        localAgent: false,
        nodeGraceMs: 3000,
        createAgent: async () => {
          throw new Error('no local agent was asked for');
        },
      });
      const { operator } = started;
      expect(operator.agent).toBeUndefined();
      expect(await operator.nodeReady(200)).toBe(false);
      // The node grace sets how often agents heartbeat: three fit in it.
      const attachment = attachToOperator({
        agent: remote,
        client: createNodeClient({ server: started.url, token: started.token, name: 'far' }),
        labels: { zone: 'b' },
      });
      stopAttachment = () => attachment.stop();
      expect(await operator.nodeReady(10_000)).toBe(true);

      const session = connectOperatorServer({ url: started.url, token: started.token });
      await session.sync(request());
      await waitFor(() => remote.desiredNames().length === 3, 'three pods on the remote agent');
      const readout = await waitFor(async () => {
        const read = await session.read();
        return read.podsOnNodes.length === 3 ? read : undefined;
      }, 'the remote agent reporting its pods');
      expect(readout.nodes.map((n) => [n.name, n.ready, n.labels])).toEqual([
        ['far', true, { zone: 'b' }],
      ]);

      const stored = await waitFor(() => {
        const node = operator.store.node('far');
        return node?.lastHeartbeat !== undefined &&
          Date.parse(node.lastHeartbeat) > Date.parse(node.registeredAt)
          ? node
          : undefined;
      }, 'a heartbeat after registration written to the store');
      expect(stored.labels).toEqual({ zone: 'b' });
    } finally {
      await stopAttachment?.();
      await started?.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
