import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNodeClient } from '../../operator/api/node-client.js';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import { type NodeEvent, PROTOCOL_VERSION } from '../../operator/api/protocol.js';
import { type EmbeddedOperator, startEmbeddedOperator } from '../../operator/operator/index.js';
import { openStore } from '../../operator/store/store.js';
import { FakeNodeAgent, waitFor } from '../agent/fake-node-agent.js';

/** A local agent that reports events as the node agent does (drift repaired). */
class EventfulAgent extends FakeNodeAgent {
  private readonly eventListeners = new Set<(event: Omit<NodeEvent, 'id'>) => void>();

  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }

  onPodEvent(listener: (event: Omit<NodeEvent, 'id'>) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  report(event: Omit<NodeEvent, 'id'>): void {
    for (const listener of this.eventListeners) listener(event);
  }
}

function drift(pod: string, message: string): Omit<NodeEvent, 'id'> {
  return {
    at: '2025-01-02T03:04:05.000Z',
    type: 'Warning',
    reason: 'DriftRepaired',
    namespace: 'default',
    pod,
    message,
  };
}

let dataDir: string;
const running: EmbeddedOperator[] = [];

beforeEach(async () => {
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-node-events-'));
});

afterEach(async () => {
  while (running.length > 0) await running.pop()?.close();
  await fsp.rm(dataDir, { recursive: true, force: true });
});

describe('events from agents reach the store', () => {
  it("stores an agent's event with its pod's app, node and object", async () => {
    // The app's inventory holds the bare pod `solo`, as a sync would leave it.
    const seed = openStore(dataDir);
    seed.replaceInventory(
      'guestbook',
      [
        {
          ref: { kind: 'Pod', namespace: 'default', name: 'solo' },
          applied: {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'solo', namespace: 'default' },
            spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
          },
        },
      ],
      '2025-01-02T03:00:00.000Z',
    );
    seed.close();

    const agent = new EventfulAgent();
    const operator = await startEmbeddedOperator({
      dataDir,
      nodeName: 'local',
      createAgent: async () => agent,
    });
    running.push(operator);
    expect(await operator.nodeReady(10_000)).toBe(true);

    agent.report(
      drift('solo', 'container c was removed outside berth (docker rm?); created again'),
    );
    agent.report(drift('stranger', 'container c was stopped outside berth (docker stop or kill)'));

    const events = await waitFor(() => {
      const stored = operator.store.events();
      return stored.length >= 2 ? stored : undefined;
    }, 'both events in the store');
    expect(events.map(({ id: _id, ...rest }) => rest)).toEqual([
      {
        at: '2025-01-02T03:04:05.000Z',
        type: 'Warning',
        reason: 'DriftRepaired',
        object: 'pod/stranger',
        node: 'local',
        message: 'container c was stopped outside berth (docker stop or kill)',
      },
      {
        at: '2025-01-02T03:04:05.000Z',
        type: 'Warning',
        reason: 'DriftRepaired',
        object: 'pod/solo',
        app: 'guestbook',
        node: 'local',
        message: 'container c was removed outside berth (docker rm?); created again',
      },
    ]);
    expect(operator.store.events({ app: 'guestbook' }).map((e) => e.object)).toEqual(['pod/solo']);
  });

  it('records an event sent twice (a lost answer) once, and refuses malformed events', async () => {
    const endpoint = createNodeEndpoint({ token: 't' });
    const heard: NodeEvent[] = [];
    endpoint.onEvents((node, events) => {
      expect(node).toBe('n1');
      heard.push(...events);
    });
    const server = await endpoint.listen('127.0.0.1', 0);
    try {
      const client = createNodeClient({ server: server.url, token: 't', name: 'n1' });
      await client.register({ labels: {}, capacity: { cpu: 1, memoryBytes: 1 } });
      const event: NodeEvent = { ...drift('web', 'renamed'), id: 'a-1' };
      await client.reportStatus([], undefined, [event]);
      await client.reportStatus([], undefined, [event, { ...event, id: 'a-2' }]);
      expect(heard.map((e) => e.id)).toEqual(['a-1', 'a-2']);

      const bad = await fetch(`${server.url}/v1/nodes/n1/status`, {
        method: 'PUT',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({
          protocolVersion: PROTOCOL_VERSION,
          pods: [],
          events: [{ id: 'x', type: 'Loud' }],
        }),
      });
      expect(bad.status).toBe(400);
      expect(heard).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});
