import { afterEach, describe, expect, it } from 'vitest';
import { createNodeClient } from '../../operator/api/node-client.js';
import {
  assignmentVersionOf,
  createNodeEndpoint,
  type NodeEndpoint,
} from '../../operator/api/node-endpoint.js';
import { PROTOCOL_VERSION } from '../../operator/api/protocol.js';
import { BerthError } from '../../operator/model/errors.js';
import { testPod } from '../agent/fake-node-agent.js';

const TOKEN = 'secret-token-for-tests';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function serve(
  options: { now?: () => number } = {},
): Promise<{ endpoint: NodeEndpoint; url: string }> {
  const endpoint = createNodeEndpoint({ token: TOKEN, heartbeatIntervalSeconds: 2, ...options });
  const server = await endpoint.listen('127.0.0.1', 0);
  closers.push(server.close);
  return { endpoint, url: server.url };
}

const registration = { labels: { zone: 'a' }, capacity: { cpu: 2, memoryBytes: 1024 } };

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof BerthError ? error.code : `not a BerthError: ${String(error)}`;
  }
}

describe('node endpoint', () => {
  it('refuses every route without the token, with 401 and the protocol error body', async () => {
    const { url } = await serve();
    for (const [method, path] of [
      ['POST', '/v1/nodes'],
      ['POST', '/v1/nodes/n1/heartbeat'],
      ['GET', '/v1/nodes/n1/pods?version='],
      ['PUT', '/v1/nodes/n1/status'],
    ] as const) {
      const response = await fetch(`${url}${path}`, {
        method,
        body: method === 'GET' ? null : '{}',
      });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(await response.json()).toMatchObject({
        protocolVersion: PROTOCOL_VERSION,
        error: { code: 'unauthorized' },
      });
    }
    const wrong = await fetch(`${url}/v1/nodes`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
      body: '{}',
    });
    expect(wrong.status).toBe(401);
    const client = createNodeClient({ server: url, token: 'wrong', name: 'n1' });
    expect(await codeOf(client.register(registration))).toBe('API_UNAUTHORIZED');
  });

  it('registers a node with labels, capacity and address, and records heartbeats', async () => {
    let clock = 1_000_000;
    const { endpoint, url } = await serve({ now: () => clock });
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    const answer = await client.register({ ...registration, address: 'http://127.0.0.1:1' });
    expect(answer).toEqual({ protocolVersion: 1, name: 'node-a', heartbeatIntervalSeconds: 2 });
    expect(endpoint.node('node-a')).toMatchObject({
      labels: { zone: 'a' },
      capacity: { cpu: 2, memoryBytes: 1024 },
      address: 'http://127.0.0.1:1',
      registeredAt: 1_000_000,
    });
    expect(endpoint.isReady('node-a')).toBe(true);
    clock += 7_000;
    expect(endpoint.isReady('node-a')).toBe(false);
    await client.heartbeat();
    expect(endpoint.node('node-a')?.lastHeartbeatAt).toBe(1_007_000);
    expect(endpoint.isReady('node-a')).toBe(true);
  });

  it('answers heartbeat, watch and status of an unregistered node with API_NODE_UNKNOWN', async () => {
    const { url } = await serve();
    const client = createNodeClient({ server: url, token: TOKEN, name: 'ghost' });
    expect(await codeOf(client.heartbeat())).toBe('API_NODE_UNKNOWN');
    expect(await codeOf(client.watchAssignments('', 1))).toBe('API_NODE_UNKNOWN');
    expect(await codeOf(client.reportStatus([]))).toBe('API_NODE_UNKNOWN');
  });

  it('refuses another protocol version and malformed registrations', async () => {
    const { url } = await serve();
    const post = (body: unknown) =>
      fetch(`${url}/v1/nodes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
    const other = await post({
      protocolVersion: 2,
      name: 'n',
      capacity: { cpu: 1, memoryBytes: 1 },
    });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: { code: 'protocol-version' } });
    const badName = await post({
      protocolVersion: 1,
      name: 'Bad_Name',
      capacity: { cpu: 1, memoryBytes: 1 },
    });
    expect(badName.status).toBe(400);
    const noCapacity = await post({ protocolVersion: 1, name: 'n' });
    expect(noCapacity.status).toBe(400);
    const notJson = await fetch(`${url}/v1/nodes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    const wrongMethod = await fetch(`${url}/v1/nodes`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(wrongMethod.status).toBe(405);
  });

  it('answers the watch at once when the version differs, and with the whole set', async () => {
    const { endpoint, url } = await serve();
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    await client.register(registration);
    const empty = await client.watchAssignments('', 5);
    expect(empty.pods).toEqual([]);
    expect(empty.version).toBe(assignmentVersionOf([]));
    endpoint.assign('node-a', [testPod('web'), testPod('db')]);
    const started = Date.now();
    const first = await client.watchAssignments(empty.version, 5);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(first.pods.map((p) => p.metadata?.name)).toEqual(['web', 'db']);
    expect(first.version).toBe(endpoint.assignmentVersion('node-a'));
    expect(first.version).not.toBe(empty.version);
  });

  it('parks the watch until the assignment changes', async () => {
    const { endpoint, url } = await serve();
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    await client.register(registration);
    const current = endpoint.assignmentVersion('node-a');
    let answered = false;
    const watch = client.watchAssignments(current, 30).then((answer) => {
      answered = true;
      return answer;
    });
    // Still parked after the server has surely seen the request: another request round-trips first.
    await client.heartbeat();
    expect(answered).toBe(false);
    endpoint.assign('node-a', [testPod('web')]);
    const answer = await watch;
    expect(answer.pods.map((p) => p.metadata?.name)).toEqual(['web']);
  });

  it('hands every node the services, and wakes parked watches when they change', async () => {
    const { endpoint, url } = await serve();
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    await client.register(registration);
    endpoint.assign('node-a', [testPod('web')]);
    const before = await client.watchAssignments('', 0);
    expect(before.services).toEqual([]);
    let answered = false;
    const watch = client.watchAssignments(before.version, 30).then((answer) => {
      answered = true;
      return answer;
    });
    await client.heartbeat();
    expect(answered).toBe(false);
    const web = {
      namespace: 'default',
      name: 'web',
      type: 'ClusterIP' as const,
      clusterIP: '10.96.0.2',
      sessionAffinity: 'None' as const,
      ports: [{ name: '', protocol: 'TCP' as const, port: 80 }],
      endpoints: [],
    };
    endpoint.setServices([web]);
    const answer = await watch;
    expect(answer.services).toEqual([web]);
    expect(answer.pods.map((p) => p.metadata?.name)).toEqual(['web']);
    expect(answer.version).not.toBe(before.version);
    // The same services again change nothing: the version stays.
    endpoint.setServices([{ ...web }]);
    expect((await client.watchAssignments('', 0)).version).toBe(answer.version);
  });

  it('answers a parked watch with the same version after its timeout', async () => {
    const { endpoint, url } = await serve();
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    await client.register(registration);
    endpoint.assign('node-a', [testPod('web')]);
    const current = endpoint.assignmentVersion('node-a');
    const started = Date.now();
    const answer = await client.watchAssignments(current, 0.3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(answer.version).toBe(current);
    expect(answer.pods).toHaveLength(1);
  });

  it('gives the same version to the same set in any order, and does not wake watchers for it', () => {
    const a = [testPod('web'), testPod('db'), testPod('x', 'other')];
    expect(assignmentVersionOf(a)).toBe(assignmentVersionOf([...a].reverse()));
    expect(assignmentVersionOf(a)).not.toBe(assignmentVersionOf(a.slice(1)));
    const changed = [testPod('web', 'default', 'nginx'), testPod('db'), testPod('x', 'other')];
    expect(assignmentVersionOf(changed)).not.toBe(assignmentVersionOf(a));
  });

  it('records status reports as the whole set, and validates them', async () => {
    const { endpoint, url } = await serve();
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    await client.register(registration);
    const seen: string[] = [];
    endpoint.onChange((node) => seen.push(node));
    await client.reportStatus([
      { namespace: 'default', name: 'web', uid: 'u1', status: { phase: 'Running' } },
    ]);
    expect(endpoint.node('node-a')?.pods).toEqual([
      { namespace: 'default', name: 'web', uid: 'u1', status: { phase: 'Running' } },
    ]);
    await client.reportStatus([]);
    expect(endpoint.node('node-a')?.pods).toEqual([]);
    expect(seen).toEqual(['node-a', 'node-a']);
    const bad = await fetch(`${url}/v1/nodes/node-a/status`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ protocolVersion: 1, pods: [{ name: 'x' }] }),
    });
    expect(bad.status).toBe(400);
  });

  it('reports an operator that is not there as API_UNREACHABLE, retryable', async () => {
    const { url } = await serve();
    await closers.pop()!();
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    const error = await client.register(registration).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe('API_UNREACHABLE');
    expect((error as BerthError).retry).toBe(true);
  });
});
