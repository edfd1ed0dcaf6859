import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type BuiltImage, ensureImages } from '../../images/build.js';
import { REPO_ROOT } from '../../images/builder.js';
import {
  containerOutput,
  docker,
  removeContainerIfPresent,
  TEST_LABELS,
  uniqueTestName,
} from '../helpers/docker.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The Guestbook's images, built from Debian packages (images/redis, guestbook/frontend), run
 * with plain Docker on a user-defined network: a redis master and a replica of it under the
 * names the frontend looks up, and the frontend's HTTP interface writing and reading through
 * them, by DNS name and by service environment variables.
 */

const REDIS = 'redis:7.0';
const FRONTEND = 'berth/guestbook-frontend:1';

const containers: string[] = [];
let network: Dockerode.Network | undefined;
let networkName = '';
let first: BuiltImage[] = [];

beforeAll(async () => {
  // Cold, both images are built from Debian packages (minutes); present, a look-up.
  first = await ensureImages([REDIS, FRONTEND]);
  networkName = uniqueTestName('berth-test-guestbook');
  network = await docker().createNetwork({ Name: networkName, Labels: { ...TEST_LABELS } });
}, 1_800_000);

afterAll(async () => {
  for (const id of containers.splice(0)) await removeContainerIfPresent(docker(), id);
  await network?.remove().catch(() => undefined);
});

/** Starts a container on the test network, labelled for cleanup; returns id and address. */
async function start(
  image: string,
  options: {
    entrypoint?: string[];
    cmd?: string[];
    env?: Record<string, string>;
    aliases?: string[];
  } = {},
): Promise<{ id: string; ip: string }> {
  const container = await docker().createContainer({
    Image: image,
    name: uniqueTestName('berth-test-gb'),
    Labels: { ...TEST_LABELS },
    ...(options.entrypoint === undefined ? {} : { Entrypoint: options.entrypoint }),
    ...(options.cmd === undefined ? {} : { Cmd: options.cmd }),
    Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
    HostConfig: { NetworkMode: networkName },
    NetworkingConfig: {
      EndpointsConfig: { [networkName]: { Aliases: options.aliases ?? [] } },
    },
  });
  containers.push(container.id);
  await container.start();
  const info = await container.inspect();
  const ip = info.NetworkSettings.Networks[networkName]?.IPAddress ?? '';
  expect(ip).not.toBe('');
  return { id: container.id, ip };
}

function redisCli(id: string, ...args: string[]): Promise<string> {
  return execIn(id, ['redis-cli', ...args]);
}

/** Runs a command in a running container; its output, trimmed. */
async function execIn(id: string, cmd: string[]): Promise<string> {
  const exec = await docker()
    .getContainer(id)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  // Docker's multiplexed stream: 8-byte headers before each chunk.
  const raw = Buffer.concat(chunks);
  let out = '';
  for (let at = 0; at + 8 <= raw.length; at += 8 + raw.readUInt32BE(at + 4)) {
    out += raw.subarray(at + 8, at + 8 + raw.readUInt32BE(at + 4)).toString('utf8');
  }
  return out.trim();
}

/** The replica container of the guestbook's redis-replica RC. */
async function replicaContainer(): Promise<{
  command: string[];
  args: string[];
  env: { name: string; value: string }[];
}> {
  const text = await readFile(
    join(REPO_ROOT, 'guestbook', 'redis-replica-controller.yaml'),
    'utf8',
  );
  const rc = parse(text) as {
    spec: {
      template: {
        spec: {
          containers: {
            command: string[];
            args: string[];
            env: { name: string; value: string }[];
          }[];
        };
      };
    };
  };
  const container = rc.spec.template.spec.containers[0];
  if (container === undefined) throw new Error('the replica RC has no container');
  return container;
}

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined; // not listening yet
  }
}

describe('example images: redis and the guestbook frontend', () => {
  let master: { id: string; ip: string };

  beforeAll(async () => {
    master = await start(REDIS, { aliases: ['redis-master'] });
    // The container of guestbook/redis-replica-controller.yaml as written (command replaces
    // the entrypoint, as in Kubernetes): a replica of redis-master by DNS name.
    const replicaSpec = await replicaContainer();
    const replica = await start(REDIS, {
      entrypoint: replicaSpec.command,
      cmd: replicaSpec.args,
      env: Object.fromEntries(replicaSpec.env.map(({ name, value }) => [name, value])),
      aliases: ['redis-replica'],
    });
    await waitFor(
      async () =>
        (await redisCli(replica.id, 'info', 'replication')).includes('master_link_status:up'),
      'the replica to sync with redis-master',
      30_000,
    );
  });

  it('redis:7.0 is Debian redis 7.0 with the public image interface', async () => {
    const image = await docker().getImage(REDIS).inspect();
    expect(image.Config.Entrypoint).toEqual(['docker-entrypoint.sh']);
    expect(image.Config.Cmd).toEqual(['redis-server']);
    expect(image.Config.WorkingDir).toBe('/data');
    expect(Object.keys(image.Config.ExposedPorts ?? {})).toEqual(['6379/tcp']);
    expect(Object.keys(image.Config.Volumes ?? {})).toEqual(['/data']);
    expect(await redisCli(master.id, 'info', 'server')).toMatch(/redis_version:7\.0\./);
    // Remote clients are welcome without a config file, and the server runs as redis in /data.
    expect(await redisCli(master.id, 'config', 'get', 'protected-mode')).toBe('protected-mode\nno');
    expect(await redisCli(master.id, 'config', 'get', 'dir')).toBe('dir\n/data');
    expect(await execIn(master.id, ['stat', '-c', '%U', '/proc/1'])).toBe('redis');
  });

  it('the entrypoint puts redis-server before a first argument that is an option', async () => {
    const custom = await start(REDIS, { cmd: ['--port', '6380'] });
    await waitFor(
      async () => (await redisCli(custom.id, '-p', '6380', 'ping')) === 'PONG',
      'redis-server on port 6380',
    );
  });

  it('the frontend writes to redis-master and reads from redis-replica (GET_HOSTS_FROM=dns)', async () => {
    const frontend = await start(FRONTEND, { env: { GET_HOSTS_FROM: 'dns' } });
    const base = `http://${frontend.ip}:80`;
    const page = await waitFor(async () => {
      const answer = await get(`${base}/`);
      return answer?.status === 200 ? answer.body : undefined;
    }, 'the frontend to serve /');
    for (const id of ['entry', 'submit', 'entries']) expect(page).toContain(`id="${id}"`);

    expect(await get(`${base}/guestbook.php?cmd=get&key=messages`)).toEqual({
      status: 200,
      body: '{"data": ""}\n',
    });
    const value = encodeURIComponent('hello, world & "you"');
    expect(await get(`${base}/guestbook.php?cmd=set&key=messages&value=${value}`)).toEqual({
      status: 200,
      body: '{"message": "Updated"}\n',
    });
    expect(await redisCli(master.id, 'get', 'messages')).toBe('hello, world & "you"');
    // Read from the replica, which copies the master asynchronously.
    const read = await waitFor(async () => {
      const answer = await get(`${base}/guestbook.php?cmd=get&key=messages`);
      return answer?.body.includes('hello') ? answer : undefined;
    }, 'the replica to have the message');
    expect(read.status).toBe(200);
    expect(JSON.parse(read.body)).toEqual({ data: 'hello, world & "you"' });
  });

  it('with GET_HOSTS_FROM=env it uses the service variables, and fails with HTTP 500 and JSON', async () => {
    const byEnv = await start(FRONTEND, {
      env: {
        GET_HOSTS_FROM: 'env',
        REDIS_MASTER_SERVICE_HOST: master.ip,
        REDIS_MASTER_SERVICE_PORT: '6379',
        // The older name of the replica service, as the 2015 example used it.
        REDIS_SLAVE_SERVICE_HOST: master.ip,
        REDIS_SLAVE_SERVICE_PORT: '6379',
      },
    });
    const base = `http://${byEnv.ip}:80`;
    await waitFor(async () => (await get(`${base}/`))?.status === 200, 'the frontend to serve /');
    expect(await get(`${base}/guestbook.php?cmd=set&key=env-key&value=from-env`)).toEqual({
      status: 200,
      body: '{"message": "Updated"}\n',
    });
    expect(await get(`${base}/guestbook.php?cmd=get&key=env-key`)).toEqual({
      status: 200,
      body: '{"data": "from-env"}\n',
    });

    // The replica RC's command finds the master the same way.
    const replicaSpec = await replicaContainer();
    const envReplica = await start(REDIS, {
      entrypoint: replicaSpec.command,
      cmd: replicaSpec.args,
      env: {
        GET_HOSTS_FROM: 'env',
        REDIS_MASTER_SERVICE_HOST: master.ip,
        REDIS_MASTER_SERVICE_PORT: '6379',
      },
    });
    await waitFor(
      async () => (await redisCli(envReplica.id, 'get', 'env-key')) === 'from-env',
      'the replica found by service variables to copy the master',
      30_000,
    );

    const broken = await start(FRONTEND, { env: { GET_HOSTS_FROM: 'env' } });
    const brokenBase = `http://${broken.ip}:80`;
    await waitFor(
      async () => (await get(`${brokenBase}/`))?.status === 200,
      'the frontend to serve /',
    );
    const failed = await get(`${brokenBase}/guestbook.php?cmd=get&key=messages`);
    expect(failed?.status).toBe(500);
    expect(JSON.parse(failed?.body ?? '{}')).toEqual({
      error: 'GET_HOSTS_FROM=env but REDIS_REPLICA_SERVICE_HOST is not set',
    });
    expect((await containerOutput(docker(), broken.id)).stderr).toContain('guestbook: ');
  });

  it('the frontend stops on SIGTERM at once (tini as PID 1), not at the end of the grace period', async () => {
    const frontend = await start(FRONTEND);
    const container = docker().getContainer(frontend.id);
    const began = Date.now();
    await container.stop({ t: 30 });
    const stoppedAfterMs = Date.now() - began;
    const state = (await container.inspect()).State;
    // 143 = 128 + SIGTERM: the server ended on the signal, nobody had to SIGKILL it (137).
    expect(state.ExitCode).toBe(143);
    expect(stoppedAfterMs).toBeLessThan(10_000);
  });

  it('a second ensureImages skips both builds', async () => {
    const again = await ensureImages([REDIS, FRONTEND]);
    expect(again.map((image) => [image.name, image.built])).toEqual([
      [REDIS, false],
      [FRONTEND, false],
    ]);
    expect(again.map((image) => image.id)).toEqual(first.map((image) => image.id));
    expect(again.every((image) => image.seconds < 10)).toBe(true);
  });
});
