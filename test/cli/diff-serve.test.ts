/**
 * `berth diff SOURCE` and `berth get` while a `berth serve` holds the data dir: the commands
 * find it by the data dir and read it over its API (the store is locked to them). A server with
 * a real store and a container-less local agent; no Docker. The server holds the store's lock,
 * so a command that did not find it would fail with STORE_LOCKED.
 */
import { promises as fsp, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectOperatorServer } from '../../operator/api/operator-client.js';
import { runDiff } from '../../operator/cli/diff.js';
import { runGet } from '../../operator/cli/get.js';
import { loadManifests } from '../../operator/manifests/load.js';
import { type OperatorServer, startOperatorServer } from '../../operator/operator/server.js';
import { createSourceReader } from '../../operator/source/index.js';
import { FakeNodeAgent, waitFor } from '../agent/fake-node-agent.js';
import { captureIo } from '../helpers/capture-io.js';
import { writeTree } from '../helpers/git-repo.js';

class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }
}

const RC = (replicas: number) => `apiVersion: v1
kind: ReplicationController
metadata:
  name: frontend
spec:
  replicas: ${replicas}
  selector:
    app: frontend
  template:
    metadata:
      labels:
        app: frontend
    spec:
      containers:
        - name: web
          image: nginx:1.25
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: frontend
spec:
  selector:
    app: frontend
  ports:
    - port: 80
`;

let temp: string;
let dataDir: string;
let source: string;
let server: OperatorServer | undefined;
let agent: FakeLocalAgent;

beforeAll(async () => {
  temp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-cli-diff-serve-'));
  dataDir = path.join(temp, 'data');
  source = path.join(temp, 'guestbook');
  mkdirSync(source);
  writeTree(source, { 'rc.yaml': RC(2), 'service.yaml': SERVICE });
  agent = new FakeLocalAgent();
  server = await startOperatorServer({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    nodeName: 'local',
    createAgent: async () => agent,
  });
  // Applied as `berth apply` does: the source's loaded objects, synced as app guestbook.
  const snapshot = await createSourceReader().open({ location: source });
  const set = await loadManifests(snapshot.files);
  expect(set.problems).toEqual([]);
  const session = connectOperatorServer({ url: server.url, token: server.token });
  const result = await session.sync({ app: 'guestbook', source, objects: set.objects });
  expect(result.refused).toBeUndefined();
  await waitFor(() => agent.desiredNames().length === 2, 'two pods on the local agent');
});

afterAll(async () => {
  await server?.close();
  await fsp.rm(temp, { recursive: true, force: true });
});

async function run(
  command: typeof runDiff | typeof runGet,
  args: readonly string[],
): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await command(args, io);
  return { status, out: io.out(), err: io.err() };
}

describe('client commands against a running berth serve on the data dir', () => {
  it('diff: the applied source is in sync; a change shows, and nothing changes', async () => {
    const same = await run(runDiff, [source, '--data-dir', dataDir]);
    expect(same.err).toBe('');
    expect(same.out).toBe('in sync: 2 objects\n');
    expect(same.status).toBe(0);

    const changed = path.join(temp, 'changed', 'guestbook');
    mkdirSync(changed, { recursive: true });
    writeTree(changed, { 'rc.yaml': RC(4), 'service.yaml': SERVICE });
    const diff = await run(runDiff, [changed, '--data-dir', dataDir]);
    expect(diff.out).toContain('~ replicationcontroller/frontend (update: spec.replicas: 2 → 4)');
    expect(diff.out).toContain('0 to create, 1 to update, 0 to replace, 0 to delete\n');
    expect(diff.status).toBe(1);

    const inventory = server?.operator.store.inventory('guestbook') ?? [];
    const rc = inventory.find((entry) => entry.ref.kind === 'ReplicationController');
    expect((rc?.applied as { spec?: { replicas?: number } } | undefined)?.spec?.replicas).toBe(2);
    expect(agent.desiredNames()).toHaveLength(2);
  });

  it('get: reads the pods and the ready node over the API', async () => {
    const nodes = await run(runGet, ['nodes', '--data-dir', dataDir]);
    expect(nodes.err).toBe('');
    expect(nodes.out).toMatch(/^local +Ready /m);
    expect(nodes.status).toBe(0);
    const pods = await run(runGet, ['pods', '--data-dir', dataDir]);
    expect(pods.out.split('\n').filter((line) => line.startsWith('frontend-'))).toHaveLength(2);
    expect(pods.status).toBe(0);
  });
});
