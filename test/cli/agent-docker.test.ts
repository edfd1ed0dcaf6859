/**
 * `berth agent --manifests` as users run it: the built command, the real node agent and the
 * Docker Engine. Stopping the command (SIGTERM) must leave the pods running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { waitFor } from '../agent/fake-node-agent.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const node = uniqueTestName('test-node');
/** A second node for the attached test, so it never meets the first test's pods as orphans. */
const attachedNode = uniqueTestName('test-node');
let dir: string;
let child: ChildProcess | undefined;
let stdout = '';
let stderr = '';

function startAgent(args: string[]): ChildProcess {
  stdout = '';
  stderr = '';
  const started = spawn(process.execPath, [BIN, 'agent', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.stdout!.on('data', (chunk) => {
    stdout += String(chunk);
  });
  started.stderr!.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return started;
}

async function nodeContainers(name = node): Promise<{ id: string; state: string; name: string }[]> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${name}`] },
  });
  return list.map((c) => ({
    id: c.Id,
    state: c.State,
    name: `${c.Labels[LABELS.podName]}/${c.Labels[LABELS.containerName] ?? ''}/${c.Labels[LABELS.role]}`,
  }));
}

function sleeperYaml(name: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      imagePullPolicy: Never
      command: ["sh", "-c", "echo hello from ${name}; exec sleep 3600"]
`;
}

function exited(process: ChildProcess): Promise<number | null> {
  if (process.exitCode !== null) return Promise.resolve(process.exitCode);
  return new Promise((resolve) => process.once('exit', (code) => resolve(code)));
}

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-agent-docker-'));
  await fsp.mkdir(path.join(dir, 'manifests'));
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    child.kill('SIGKILL');
    await exited(child);
  }
  for (const name of [node, attachedNode]) {
    for (const container of await nodeContainers(name)) {
      await removeContainerIfPresent(docker(), container.id);
    }
  }
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('berth agent on Docker', () => {
  it('runs a manifest dir for real, and SIGTERM stops the agent but not its pods', async () => {
    await fsp.writeFile(path.join(dir, 'manifests', 'sleeper.yaml'), sleeperYaml('sleeper'));
    child = startAgent([
      '--manifests',
      path.join(dir, 'manifests'),
      '--name',
      node,
      '--data-dir',
      path.join(dir, 'data'),
      '--listen',
      '127.0.0.1:0',
    ]);
    const url = (
      await waitFor(() => /serving on (http:\/\/\S+)/.exec(stdout), 'the served address', 30_000)
    )[1]!;
    const token = (await fsp.readFile(path.join(dir, 'data', 'token'), 'utf8')).trim();

    const running = await waitFor(
      async () =>
        (await nodeContainers()).find(
          (c) => c.name === 'sleeper/main/container' && c.state === 'running',
        ),
      `the pod's container to run (stderr: ${stderr})`,
      30_000,
    );
    await waitFor(
      async () => {
        const response = await fetch(`${url}/v1/pods/default/sleeper`, {
          headers: { authorization: `Bearer ${token}` },
        });
        if (response.status !== 200) return false;
        const report = (await response.json()) as { status?: { phase?: string } };
        return report.status?.phase === 'Running';
      },
      'the pod reported Running on the agent port',
      30_000,
    );

    // Logs through the agent's port: whole, and followed (the stream stays open).
    await waitFor(
      async () => {
        const log = await fetch(`${url}/v1/pods/default/sleeper/log`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return log.status === 200 && (await log.text()).includes('hello from sleeper');
      },
      "the pod's log line",
      10_000,
    );
    const abort = new AbortController();
    const followed = await fetch(`${url}/v1/pods/default/sleeper/log?follow=1`, {
      headers: { authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    const reader = followed.body!.getReader();
    let seen = '';
    while (!seen.includes('hello from sleeper')) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`followed log ended early: "${seen}"`);
      seen += new TextDecoder().decode(chunk.value);
    }
    abort.abort();

    // The node follows the directory: a new file runs, a deleted file's pod goes.
    await fsp.writeFile(path.join(dir, 'manifests', 'second.yaml'), sleeperYaml('second'));
    await waitFor(
      async () =>
        (await nodeContainers()).some(
          (c) => c.name === 'second/main/container' && c.state === 'running',
        ),
      'the added pod to run',
      30_000,
    );
    await fsp.rm(path.join(dir, 'manifests', 'second.yaml'));
    await waitFor(
      async () => !(await nodeContainers()).some((c) => c.name.startsWith('second/')),
      'the deleted pod to be removed',
      30_000,
    );

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(stdout).toContain('pods left running');
    const after = await nodeContainers();
    expect(after.find((c) => c.id === running.id)?.state).toBe('running');
  });

  it('after SIGKILL, a new agent adopts every container as it is and follows what changed meanwhile', async () => {
    // The first test left `sleeper` running under this node; add `keeper` beside it.
    await fsp.writeFile(path.join(dir, 'manifests', 'keeper.yaml'), sleeperYaml('keeper'));
    const args = [
      '--manifests',
      path.join(dir, 'manifests'),
      '--name',
      node,
      '--data-dir',
      path.join(dir, 'data'),
      '--listen',
      'off',
    ];
    child = startAgent(args);
    const keeper = await waitFor(
      async () =>
        (await nodeContainers()).find(
          (c) => c.name === 'keeper/main/container' && c.state === 'running',
        ),
      `keeper to run (stderr: ${stderr})`,
      30_000,
    );
    const startedAt = (await docker().getContainer(keeper.id).inspect()).State.StartedAt;
    child.kill('SIGKILL');
    expect(await exited(child)).toBe(null);

    // While no agent runs, `sleeper` leaves the desired set.
    await fsp.rm(path.join(dir, 'manifests', 'sleeper.yaml'));
    child = startAgent(args);
    await waitFor(
      async () => !(await nodeContainers()).some((c) => c.name.startsWith('sleeper/')),
      `sleeper removed by the new agent (stderr: ${stderr})`,
      30_000,
    );
    const keeperNow = await docker().getContainer(keeper.id).inspect();
    expect(keeperNow.State.Running).toBe(true);
    expect(keeperNow.State.StartedAt).toBe(startedAt);
    expect(
      (await nodeContainers()).filter((c) => c.name === 'keeper/main/container').map((c) => c.id),
    ).toEqual([keeper.id]);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('attached to an operator: runs what it assigns and reports status, then SIGTERM leaves it running', async () => {
    const endpoint = createNodeEndpoint({ token: 'e2e-token', heartbeatIntervalSeconds: 1 });
    const operator = await endpoint.listen('127.0.0.1', 0);
    try {
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'assigned', namespace: 'default', uid: 'uid-assigned' },
        spec: {
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: TEST_IMAGE,
              imagePullPolicy: 'Never',
              command: ['sleep', '3600'],
            },
          ],
        },
      };
      endpoint.assign(attachedNode, [pod]);
      child = startAgent([
        '--server',
        operator.url,
        '--token',
        'e2e-token',
        '--name',
        attachedNode,
        '--labels',
        'e2e=yes',
        '--data-dir',
        path.join(dir, 'data-attached'),
        '--listen',
        'off',
      ]);
      await waitFor(() => endpoint.node(attachedNode), `registration (stderr: ${stderr})`, 30_000);
      const running = await waitFor(
        async () =>
          (await nodeContainers(attachedNode)).find(
            (c) => c.name === 'assigned/main/container' && c.state === 'running',
          ),
        `the assigned pod to run (stderr: ${stderr})`,
        30_000,
      );
      await waitFor(
        () =>
          endpoint.node(attachedNode)?.pods.find((p) => p.name === 'assigned')?.status.phase ===
          'Running',
        'a Running status report',
        30_000,
      );
      expect(endpoint.node(attachedNode)?.labels).toEqual({ e2e: 'yes' });
      expect(endpoint.node(attachedNode)?.capacity.cpu).toBeGreaterThan(0);
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      expect((await nodeContainers(attachedNode)).find((c) => c.id === running.id)?.state).toBe(
        'running',
      );
    } finally {
      await operator.close();
    }
  });
});
