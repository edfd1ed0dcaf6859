import { afterEach, describe, expect, it } from 'vitest';
import {
  type Attachment,
  type AttachOptions,
  attachToOperator,
} from '../../operator/agent/attach.js';
import { createNodeClient } from '../../operator/api/node-client.js';
import { createNodeEndpoint, type NodeEndpoint } from '../../operator/api/node-endpoint.js';
import { BerthError } from '../../operator/model/errors.js';
import type { Pod } from '../../operator/model/generated/types.js';
import type { ServiceView } from '../../operator/services/types.js';
import { FakeNodeAgent, testPod, waitFor } from './fake-node-agent.js';

const TOKEN = 'attach-test-token';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function operator(
  port = 0,
): Promise<{ endpoint: NodeEndpoint; url: string; close: () => Promise<void> }> {
  const endpoint = createNodeEndpoint({ token: TOKEN, heartbeatIntervalSeconds: 0.1 });
  const server = await endpoint.listen('127.0.0.1', port);
  cleanups.push(server.close);
  return { endpoint, url: server.url, close: server.close };
}

function attach(
  url: string,
  agent: FakeNodeAgent,
  token = TOKEN,
  more: Partial<AttachOptions> = {},
): Attachment {
  const attachment = attachToOperator({
    agent,
    client: createNodeClient({ server: url, token, name: 'node-a' }),
    labels: { disk: 'ssd' },
    address: 'http://127.0.0.1:9',
    watchTimeoutSeconds: 1,
    statusDebounceMs: 20,
    retryInitialMs: 20,
    retryMaxMs: 100,
    ...more,
  });
  cleanups.push(() => attachment.stop());
  return attachment;
}

describe('attached mode against the real endpoint over HTTP', () => {
  it('registers with capacity and labels, follows assignments, and reports status', async () => {
    const { endpoint, url } = await operator();
    const agent = new FakeNodeAgent();
    const attachment = attach(url, agent);
    const node = await waitFor(() => endpoint.node('node-a'), 'registration');
    expect(node).toMatchObject({
      labels: { disk: 'ssd' },
      capacity: { cpu: 4, memoryBytes: 8 * 1024 ** 3 },
      address: 'http://127.0.0.1:9',
    });
    // The first answer is the (empty) whole set: level-triggered from the start.
    await waitFor(() => agent.version === endpoint.assignmentVersion('node-a'), 'first set');
    expect(agent.desiredNames()).toEqual([]);

    endpoint.assign('node-a', [testPod('web'), testPod('db')]);
    await waitFor(() => agent.desiredNames().length === 2, 'assigned pods reach the agent');
    expect(agent.desiredNames()).toEqual(['default/db', 'default/web']);
    expect(attachment.assignmentVersion()).toBe(endpoint.assignmentVersion('node-a'));
    await waitFor(() => endpoint.node('node-a')?.pods.length === 2, 'status of both pods');
    expect(endpoint.node('node-a')?.pods.map((p) => p.status.phase)).toEqual([
      'Running',
      'Running',
    ]);

    endpoint.assign('node-a', [testPod('db')]);
    await waitFor(() => agent.desiredNames().join() === 'default/db', 'removal reaches the agent');
    await waitFor(() => endpoint.node('node-a')?.pods.length === 1, 'status follows removal');
  });

  it('heartbeats so the node stays ready', async () => {
    const { endpoint, url } = await operator();
    attach(url, new FakeNodeAgent());
    const first = await waitFor(() => endpoint.node('node-a')?.lastHeartbeatAt, 'registration');
    await waitFor(
      () => (endpoint.node('node-a')?.lastHeartbeatAt ?? 0) > first,
      'a heartbeat after registration',
    );
  });

  it('registers again and gets its set back when the operator forgets the node', async () => {
    const first = await operator();
    const port = Number(new URL(first.url).port);
    const agent = new FakeNodeAgent();
    attach(first.url, agent);
    first.endpoint.assign('node-a', [testPod('web')]);
    await waitFor(() => agent.desiredNames().length === 1, 'first assignment');
    const callsBefore = agent.calls.length;

    // The operator restarts on the same port with nothing in memory.
    await first.close();
    const endpoint = createNodeEndpoint({ token: TOKEN, heartbeatIntervalSeconds: 0.1 });
    const server = await endpoint.listen('127.0.0.1', port);
    cleanups.push(server.close);
    endpoint.assign('node-a', [testPod('web'), testPod('cache')]);
    await waitFor(() => endpoint.node('node-a'), 're-registration', 10_000);
    await waitFor(() => agent.desiredNames().length === 2, 'the new set', 10_000);
    expect(agent.calls.length).toBeGreaterThan(callsBefore);
    await waitFor(() => endpoint.node('node-a')?.pods.length === 2, 'status after re-registration');
  });

  it('ends with API_UNAUTHORIZED on a wrong token instead of retrying forever', async () => {
    const { url } = await operator();
    const agent = new FakeNodeAgent();
    const attachment = attach(url, agent, 'wrong-token');
    await expect(attachment.done).rejects.toMatchObject({ code: 'API_UNAUTHORIZED' });
    expect(agent.calls).toEqual([]);
  });

  it('keeps retrying while the operator is down, and attaches once it is up', async () => {
    const probe = await operator();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const agent = new FakeNodeAgent();
    attach(probe.url, agent);
    const endpoint = createNodeEndpoint({ token: TOKEN, heartbeatIntervalSeconds: 0.1 });
    const server = await endpoint.listen('127.0.0.1', port);
    cleanups.push(server.close);
    endpoint.assign('node-a', [testPod('late')]);
    await waitFor(
      () => agent.desiredNames().join() === 'default/late',
      'assignment after operator start',
      10_000,
    );
  });

  it('stop() ends the loops and leaves the agent running', async () => {
    const { endpoint, url } = await operator();
    const agent = new FakeNodeAgent();
    const attachment = attach(url, agent);
    await waitFor(() => agent.version !== undefined, 'first set');
    await attachment.stop();
    await attachment.done;
    endpoint.assign('node-a', [testPod('after-stop')]);
    const calls = agent.calls.length;
    // A fresh watch round-trip proves the operator is answering; the stopped agent does not ask.
    const other = createNodeClient({ server: url, token: TOKEN, name: 'node-a' });
    await other.watchAssignments('', 1);
    expect(agent.calls.length).toBe(calls);
    expect(agent.stopped).toBe(false);
  });

  it('retries when the engine cannot tell its capacity yet, instead of giving up', async () => {
    const { endpoint, url } = await operator();
    const agent = new FakeNodeAgent();
    let failures = 2;
    agent.capacity = async () => {
      if (failures > 0) {
        failures -= 1;
        throw new BerthError('RUNTIME_ENGINE_FAILED', 'engine not answering');
      }
      return { cpu: 1, memoryBytes: 1024 };
    };
    attach(url, agent);
    const node = await waitFor(() => endpoint.node('node-a'), 'registration after retries');
    expect(node.capacity).toEqual({ cpu: 1, memoryBytes: 1024 });
    expect(failures).toBe(0);
  });

  it('applies the services of an answer before handing its pods to the agent', async () => {
    const { endpoint, url } = await operator();
    const agent = new ServicesAgent();
    attach(url, agent);
    endpoint.setServices([webService(['web-1', 'web-2'])]);
    endpoint.assign('node-a', [testPod('web-1'), testPod('web-2')]);
    await waitFor(() => agent.desiredNames().length === 2, 'both pods reach the agent');

    // The operator takes web-1 out of the endpoints and off the node in one pass.
    agent.hold = true;
    endpoint.setServices([webService(['web-2'])]);
    endpoint.assign('node-a', [testPod('web-2')]);
    await waitFor(() => agent.held.length > 0, 'the new services handed to the proxy');
    // Until the proxy holds them, web-1 is still wanted: its containers are not stopped.
    const deadline = Date.now() + 10_000;
    while (agent.desiredNames().length !== 1) {
      if (Date.now() > deadline) throw new Error(`web-1 never left: ${agent.log.join(' ')}`);
      const release = agent.held.shift();
      if (release !== undefined) {
        expect(agent.desiredNames()).toContain('default/web-1');
        release();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Every set of pods came after the services of the same answer had been applied.
    const lastPods = agent.log.lastIndexOf('pods:default/web-2');
    const lastApplied = agent.log.lastIndexOf('applied:web-2');
    expect(lastApplied).toBeGreaterThanOrEqual(0);
    expect(lastApplied).toBeLessThan(lastPods);
    expect(agent.log.slice(lastApplied + 1, lastPods)).toEqual([]);
  });

  it('hands the pods on after servicesFirstWaitMs when the services never settle', async () => {
    const { endpoint, url } = await operator();
    const agent = new ServicesAgent();
    agent.hold = true;
    attach(url, agent, TOKEN, { servicesFirstWaitMs: 50 });
    endpoint.setServices([webService(['web-1'])]);
    endpoint.assign('node-a', [testPod('web-1')]);
    await waitFor(() => agent.desiredNames().join() === 'default/web-1', 'the pods, late');
    expect(agent.log).not.toContain('applied:web-1');
  });
});

/** A fake agent with services: records each set, and settles it when the test says so. */
class ServicesAgent extends FakeNodeAgent {
  hold = false;
  /** Releases of services not yet applied, oldest first. */
  readonly held: (() => void)[] = [];
  /** `services:<endpoints>`, `applied:<endpoints>` and `pods:<names>`, in order. */
  readonly log: string[] = [];

  setServices(services: readonly ServiceView[]): Promise<void> {
    const text = services.flatMap((s) => s.endpoints.map((e) => e.pod.split('/')[1])).join(',');
    this.log.push(`services:${text}`);
    return new Promise((resolve) => {
      const release = (): void => {
        this.log.push(`applied:${text}`);
        resolve();
      };
      if (this.hold) this.held.push(release);
      else release();
    });
  }

  override setDesiredPods(pods: readonly Pod[], version: string): void {
    this.log.push(
      `pods:${pods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).join(',')}`,
    );
    super.setDesiredPods(pods, version);
  }
}

function webService(pods: readonly string[]): ServiceView {
  return {
    namespace: 'default',
    name: 'web',
    type: 'ClusterIP',
    clusterIP: '10.96.0.10',
    sessionAffinity: 'None',
    ports: [{ name: '', protocol: 'TCP', port: 80 }],
    endpoints: pods.map((pod, i) => ({
      ip: `10.0.0.${i + 2}`,
      pod: `default/${pod}`,
      node: 'node-a',
      ports: { '': 80 },
    })),
  };
}
