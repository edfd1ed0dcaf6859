import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Attachment, attachToOperator } from '../../operator/agent/attach.js';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import { systemClock } from '../../operator/agent/lifecycle/clock.js';
import { createNodeAgent, type NodeAgent } from '../../operator/agent/node-agent.js';
import { createNodeClient } from '../../operator/api/node-client.js';
import { createNodeEndpoint, type NodeEndpoint } from '../../operator/api/node-endpoint.js';
import { createEngine, type Engine } from '../../operator/engine/engine.js';
import { createMemoryState } from '../../operator/engine/state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The engine end to end: an in-process endpoint on 127.0.0.1, two real node agents on the
 * real Docker Engine attached through the node protocol, and an RC scaled up and down.
 * Nodes are named uniquely so other test files never see these containers.
 */

const TOKEN = 'engine-test-token';
const nodes = [uniqueTestName('engine-node'), uniqueTestName('engine-node')];
let runtime: DockerRuntime;
let dataDir: string;
let endpoint: NodeEndpoint;
let server: { readonly url: string; close(): Promise<void> } | undefined;
let engine: Engine;
let stopEngine: (() => void) | undefined;
const agents: NodeAgent[] = [];
const attachments: Attachment[] = [];

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

function rc(replicas: number): ManifestObject[] {
  return load(`apiVersion: v1
kind: ReplicationController
metadata: {name: engine-web}
spec:
  replicas: ${replicas}
  selector: {app: engine-web}
  template:
    metadata: {labels: {app: engine-web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: [sleep, '3600']
        resources: {requests: {cpu: 10m, memory: 8Mi}}
`);
}

const until = <T>(check: () => T | Promise<T>, what: string, timeoutMs = 45_000) =>
  waitFor(check, what, timeoutMs);

/** Running app containers (not sandboxes) per node, from the engine itself. */
async function runningPerNode(): Promise<number[]> {
  const counts: number[] = [];
  for (const node of nodes) {
    const containers = await runtime.list(node);
    counts.push(
      containers.filter((c) => c.containerName === 'main' && c.state === 'running').length,
    );
  }
  return counts;
}

async function removeNodeContainers(): Promise<void> {
  for (const node of nodes) {
    for (const container of await runtime.list(node)) await runtime.remove(container.id);
  }
}

beforeAll(async () => {
  runtime = createDockerRuntime();
  await ensureTestImage(docker());
  await runtime.ensurePauseImage();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-engine-docker-'));
  endpoint = createNodeEndpoint({ token: TOKEN, heartbeatIntervalSeconds: 1 });
  server = await endpoint.listen('127.0.0.1', 0);
  const url = server.url;
  engine = createEngine({
    endpoint,
    state: createMemoryState(),
    clock: systemClock,
    random: Math.random,
  });
  stopEngine = engine.start(500);
  for (const node of nodes) {
    const agent = createNodeAgent({
      runtime,
      node,
      dataDir: join(dataDir, node),
      relistIntervalMs: 2_000,
      orphanGraceSeconds: 1,
    });
    agents.push(agent);
    await agent.start();
    attachments.push(
      attachToOperator({
        agent,
        client: createNodeClient({ server: url, token: TOKEN, name: node }),
        labels: {},
        watchTimeoutSeconds: 5,
        statusDebounceMs: 50,
      }),
    );
  }
});

afterAll(async () => {
  stopEngine?.();
  for (const attachment of attachments.splice(0)) await attachment.stop();
  for (const agent of agents.splice(0)) await agent.stop();
  if (runtime !== undefined) await removeNodeContainers();
  await server?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('engine on real agents', () => {
  it('runs an RC of 3 across two agents, scales it to 1, and removes it', async () => {
    await until(
      () => nodes.every((node) => endpoint.isReady(node)),
      'both agents to register with the endpoint',
    );

    const created = engine.sync('app', rc(3));
    expect(created.refused).toBeUndefined();
    const scheduled = created.reports.filter((report) => report.action === 'scheduled');
    expect(scheduled).toHaveLength(3);
    const spread = await until(async () => {
      const counts = await runningPerNode();
      return counts.reduce((a, b) => a + b, 0) === 3 ? counts : undefined;
    }, '3 running containers');
    expect([...spread].sort()).toEqual([1, 2]);
    await until(
      () =>
        nodes
          .map((node) => endpoint.node(node)?.pods.filter((p) => p.status.phase === 'Running'))
          .reduce((sum, pods) => sum + (pods?.length ?? 0), 0) === 3,
      'the agents to report 3 running pods',
    );

    const scaled = engine.sync('app', rc(1));
    const deletes = scaled.reports.filter((r) => r.ref.kind === 'Pod' && r.action === 'delete');
    expect(deletes).toHaveLength(2);
    await until(async () => {
      const counts = await runningPerNode();
      return counts.reduce((a, b) => a + b, 0) === 1;
    }, 'scale down to 1 running container');

    const emptied = engine.sync('app', [], { allowEmpty: true });
    expect(emptied.refused).toBeUndefined();
    await until(async () => {
      for (const node of nodes) if ((await runtime.list(node)).length > 0) return false;
      return true;
    }, 'every container of both nodes to be removed');
  });
});
