/**
 * `berth logs` on the real engine: a node agent (unique node name) runs pods of the busybox
 * test image that print lines; the command, through main(), finds their containers by berth's
 * labels and prints the engine's log.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import { createNodeAgent, type NodeAgent } from '../../operator/agent/node-agent.js';
import { main } from '../../operator/cli/main.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { captureIo } from '../helpers/capture-io.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

const node = uniqueTestName('logs-node');
let runtime: DockerRuntime;
let dataDir: string;
let agent: NodeAgent | undefined;

async function logs(args: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  // --data-dir: an empty dir, so no store on this machine widens the search.
  const status = await main(['logs', ...args, '--node-name', node, '--data-dir', dataDir], io);
  return { status, out: io.out(), err: io.err() };
}

const until = <T>(check: () => T | Promise<T>, what: string) => waitFor(check, what, 30_000);

function pod(
  name: string,
  restartPolicy: 'Always' | 'Never',
  containers: Pod['spec']['containers'],
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { restartPolicy, terminationGracePeriodSeconds: 1, containers },
  };
}

beforeAll(async () => {
  runtime = createDockerRuntime();
  await ensureTestImage(docker());
  await runtime.ensurePauseImage();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-logs-docker-'));
  agent = createNodeAgent({ runtime, node, dataDir, relistIntervalMs: 2_000 });
  agent.setDesiredPods(
    [
      pod('talker', 'Always', [
        {
          name: 'app',
          image: TEST_IMAGE,
          command: ['sh', '-c', 'echo hello from berth; echo second line; exec sleep 3600'],
        },
        { name: 'side', image: TEST_IMAGE, command: ['sleep', '3600'] },
      ]),
      pod('oneshot', 'Never', [
        { name: 'job', image: TEST_IMAGE, command: ['sh', '-c', 'echo job done'] },
      ]),
    ],
    'v1',
  );
  await agent.start();
  await until(async () => {
    const containers = await runtime.list(node);
    const running = containers.some(
      (c) => c.podName === 'talker' && c.containerName === 'app' && c.state === 'running',
    );
    const finished = containers.some(
      (c) => c.podName === 'oneshot' && c.containerName === 'job' && c.state === 'exited',
    );
    return running && finished;
  }, 'talker running and oneshot finished');
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  if (runtime !== undefined) {
    for (const container of await runtime.list(node)) await runtime.remove(container.id);
  }
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('berth logs on Docker', () => {
  it("prints a container's log, and only the last lines with --tail", async () => {
    const all = await until(async () => {
      const run = await logs(['talker', '-c', 'app']);
      return run.out.includes('second line') && run;
    }, 'both lines in the log');
    expect(all.status).toBe(0);
    expect(all.err).toBe('');
    expect(all.out).toBe('hello from berth\nsecond line\n');

    const last = await logs(['talker', '-c', 'app', '--tail', '1']);
    expect(last.status).toBe(0);
    expect(last.out).toBe('second line\n');
  });

  it('follows until the container ends', async () => {
    const run = await logs(['oneshot', '-f']);
    expect(run.status).toBe(0);
    expect(run.out).toBe('job done\n');
  });

  it('names the containers when none or an unknown one is chosen, and the pod when unknown', async () => {
    const unchosen = await logs(['talker']);
    expect(unchosen.status).toBe(2);
    expect(unchosen.err).toContain('pod "talker" has 2 containers: app, side; choose one with -c');

    const unknown = await logs(['talker', '-c', 'web']);
    expect(unknown.status).toBe(2);
    expect(unknown.err).toContain(
      'container "web" not found in pod "talker"; its containers: app, side',
    );

    const missing = await logs(['nope']);
    expect(missing.status).toBe(2);
    expect(missing.err).toContain(
      `pod "nope" not found in namespace "default" on this host (nodes: ${node})`,
    );

    const otherNamespace = await logs(['talker', '-c', 'app', '-n', 'other']);
    expect(otherNamespace.status).toBe(2);
    expect(otherNamespace.err).toContain('not found in namespace "other"');
  });
});
