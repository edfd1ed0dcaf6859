import { afterEach, describe, expect, it } from 'vitest';
import { createNodeClient } from '../../operator/api/node-client.js';
import { assignmentVersionOf, createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import { isBerthError } from '../../operator/model/errors.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { createLocalNodeClient } from '../../operator/operator/local-node-client.js';

const TOKEN = 'local-client-token';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

const REGISTRATION = { labels: {}, capacity: { cpu: 2, memoryBytes: 2 ** 30 } };
const POD: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', uid: 'u-1' },
  spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
};

async function setUp(token = TOKEN) {
  const endpoint = createNodeEndpoint({ token: TOKEN });
  const server = await endpoint.listen('127.0.0.1', 0);
  closers.push(server.close);
  const options = { server: server.url, token, name: 'node-1' };
  const client = createLocalNodeClient(options, createNodeClient(options));
  return { endpoint, client };
}

async function codeOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
  } catch (error) {
    return isBerthError(error) ? error.code : 'not a BerthError';
  }
  return undefined;
}

describe('the local agent node client', () => {
  it('long-polls the assignment and answers when the set changes', async () => {
    const { endpoint, client } = await setUp();
    await client.register(REGISTRATION);
    const first = await client.watchAssignments('', 30);
    expect(first.version).toBe(assignmentVersionOf([]));
    const parked = client.watchAssignments(first.version, 30);
    endpoint.assign('node-1', [POD]);
    const next = await parked;
    expect(next.version).toBe(assignmentVersionOf([POD]));
    expect(next.pods.map((pod) => pod.metadata.name)).toEqual(['web']);
  });

  it('fails as the fetch client does: unknown node, refused token', async () => {
    const { client } = await setUp();
    expect(await codeOf(client.watchAssignments('', 0))).toBe('API_NODE_UNKNOWN');
    const refused = await setUp('wrong-token');
    expect(await codeOf(refused.client.watchAssignments('', 0))).toBe('API_UNAUTHORIZED');
  });

  it('stops a parked watch when aborted', async () => {
    const { client } = await setUp();
    await client.register(REGISTRATION);
    const { version } = await client.watchAssignments('', 0);
    const abort = new AbortController();
    const parked = client.watchAssignments(version, 30, abort.signal);
    abort.abort();
    await expect(parked).rejects.toThrow();
  });
});
