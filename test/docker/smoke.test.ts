import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  containerOutput,
  demuxDockerStream,
  docker,
  removeContainerIfPresent,
  TEST_LABEL_KEY,
  TEST_LABELS,
  uniqueTestName,
} from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';

/**
 * The Docker Engine answers and runs the test image through dockerode: the path every agent
 * and end-to-end test builds on. If this fails, read it before any other Docker test failure.
 */

const created: string[] = [];

beforeAll(async () => {
  await ensureTestImage(docker());
});

afterEach(async () => {
  // Runs after failures too: no test leaves a container behind.
  for (const id of created.splice(0)) await removeContainerIfPresent(docker(), id);
});

describe('Docker smoke test', () => {
  it('creates, starts, inspects, stops, reads logs of and removes a labelled container', async () => {
    const client = docker();
    const name = uniqueTestName();
    const container = await client.createContainer({
      name,
      Image: TEST_IMAGE,
      // Runs until told to stop; the TERM trap proves signals reach the process and sets the
      // exit code the test expects.
      Cmd: [
        'sh',
        '-c',
        'trap \'echo "stopping $GREETING"; exit 7\' TERM; echo "started $GREETING"; echo warn >&2; while :; do sleep 0.1; done',
      ],
      Env: ['GREETING=from-berth'],
      Labels: { ...TEST_LABELS, 'io.berth.test.case': 'smoke' },
    });
    created.push(container.id);

    await container.start();
    const running = await container.inspect();
    expect(running.Name).toBe(`/${name}`);
    expect(running.State.Running).toBe(true);
    expect(running.Config.Labels).toMatchObject({
      [TEST_LABEL_KEY]: '1',
      'io.berth.test.case': 'smoke',
    });

    const listed = await client.listContainers({
      filters: { label: [`${TEST_LABEL_KEY}=1`], name: [name] },
    });
    expect(listed.map((summary) => summary.Id)).toEqual([container.id]);

    const exited = container.wait() as Promise<{ StatusCode: number }>;
    await container.kill({ signal: 'SIGTERM' });
    expect((await exited).StatusCode).toBe(7);

    const stopped = await container.inspect();
    expect(stopped.State.Running).toBe(false);
    expect(stopped.State.ExitCode).toBe(7);

    const output = await containerOutput(client, container.id);
    expect(output.stdout).toBe('started from-berth\nstopping from-berth\n');
    expect(output.stderr).toBe('warn\n');

    await container.remove();
    await expect(container.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('reports the exit code of a container that fails on its own', async () => {
    const container = await docker().createContainer({
      name: uniqueTestName(),
      Image: TEST_IMAGE,
      Cmd: ['sh', '-c', 'exit 3'],
      Labels: { ...TEST_LABELS },
    });
    created.push(container.id);
    await container.start();
    expect(((await container.wait()) as { StatusCode: number }).StatusCode).toBe(3);
  });
});

describe('demuxDockerStream', () => {
  it('splits stdout and stderr frames and ignores a truncated trailing header', () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    const raw = Buffer.concat([
      frame(1, 'out1 '),
      frame(2, 'err'),
      frame(1, 'out2'),
      Buffer.from([1, 0]),
    ]);
    expect(demuxDockerStream(raw)).toEqual({ stdout: 'out1 out2', stderr: 'err' });
  });
});
