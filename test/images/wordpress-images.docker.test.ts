import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureImages } from '../../images/build.js';
import {
  containerOutput,
  docker,
  removeContainerIfPresent,
  TEST_LABELS,
  uniqueTestName,
} from '../helpers/docker.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The images the wordpress/ reference repo names, built from Debian packages (images/mariadb,
 * images/wordpress), driven with plain Docker: MariaDB initialises an empty host directory from
 * its environment, keeps the data when the container is replaced, and stops on SIGTERM;
 * WordPress finds it by the network alias `mysql` and serves the installer.
 */

const MARIADB = 'mariadb:10.11';
const WORDPRESS = 'wordpress:6.1-apache';

const DB = { root: "root-pw 'quoted'", name: 'wordpress', user: 'wordpress', password: 'wp-pw$1' };

const containers: string[] = [];
let network: Dockerode.Network | undefined;
let networkName = '';
let dataDir = '';

beforeAll(async () => {
  // Cold, both images are built from Debian packages (minutes); present, this is a look-up.
  await ensureImages([MARIADB, WORDPRESS]);
  networkName = uniqueTestName('berth-test-wp');
  network = await docker().createNetwork({ Name: networkName, Labels: { ...TEST_LABELS } });
  dataDir = await mkdtemp(join(tmpdir(), 'berth-test-mariadb-'));
}, 1_800_000);

afterEach(async () => {
  for (const id of containers.splice(0)) await removeContainerIfPresent(docker(), id);
});

afterAll(async () => {
  for (const id of containers.splice(0)) await removeContainerIfPresent(docker(), id);
  await network?.remove().catch(() => undefined);
  // The server wrote its files as the image's mysql user: remove them as root would.
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

/** Starts a container on the test network (with `aliases`), labelled for cleanup. */
async function start(
  image: string,
  options: {
    env?: Record<string, string>;
    cmd?: string[];
    binds?: string[];
    aliases?: string[];
    publish?: string;
  },
): Promise<Dockerode.Container> {
  const container = await docker().createContainer({
    name: uniqueTestName('berth-test-wp'),
    Image: image,
    Labels: { ...TEST_LABELS },
    ...(options.cmd === undefined ? {} : { Cmd: options.cmd }),
    Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
    ...(options.publish === undefined ? {} : { ExposedPorts: { [options.publish]: {} } }),
    HostConfig: {
      NetworkMode: networkName,
      Binds: options.binds ?? [],
      ...(options.publish === undefined
        ? {}
        : { PortBindings: { [options.publish]: [{ HostIp: '127.0.0.1', HostPort: '' }] } }),
    },
    NetworkingConfig: {
      EndpointsConfig: { [networkName]: { Aliases: options.aliases ?? [] } },
    },
  });
  containers.push(container.id);
  await container.start();
  return container;
}

/** Runs the mariadb client in a container of its own against `mysql`; its exit code and output. */
async function mariadbClient(
  sql: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const client = await start(MARIADB, {
    cmd: [
      'mariadb',
      '--host=mysql',
      `--user=${DB.user}`,
      `--password=${DB.password}`,
      '--batch',
      '--skip-column-names',
      DB.name,
      '-e',
      sql,
    ],
  });
  const result = (await client.wait()) as { StatusCode: number };
  const output = await containerOutput(docker(), client.id);
  return { code: result.StatusCode, ...output };
}

/** Starts the database on the test data directory and waits until it answers over TCP. */
async function startDatabase(env: Record<string, string>): Promise<Dockerode.Container> {
  const db = await start(MARIADB, {
    env,
    binds: [`${dataDir}:/var/lib/mysql`],
    aliases: ['mysql'],
  });
  await waitFor(
    async () => {
      const state = await db.inspect();
      if (!state.State.Running) {
        const logs = await containerOutput(docker(), db.id);
        throw new Error(`mariadb stopped (exit ${state.State.ExitCode}): ${logs.stderr}`);
      }
      return (
        (await execIn(db, [
          'mariadb-admin',
          '--host=127.0.0.1',
          `--user=${DB.user}`,
          `--password=${DB.password}`,
          'ping',
        ])) === 0
      );
    },
    'mariadb to answer on 127.0.0.1:3306 as the application user',
    90_000,
  );
  return db;
}

async function execIn(container: Dockerode.Container, cmd: string[]): Promise<number> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    // The hijacked socket closes when the command exits (it may not emit 'end').
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    stream.resume();
  });
  const result = await exec.inspect();
  return result.ExitCode ?? -1;
}

/** Stops a container with SIGTERM and a grace period; its exit code and how long it took. */
async function stopGracefully(
  container: Dockerode.Container,
  graceSeconds: number,
): Promise<{ exitCode: number; ms: number }> {
  const started = Date.now();
  await container.stop({ t: graceSeconds });
  const state = await container.inspect();
  return { exitCode: state.State.ExitCode, ms: Date.now() - started };
}

/**
 * One GET on a fresh connection with a deadline (rejects on network errors and timeouts);
 * redirects are not followed.
 */
function get(
  url: string,
  timeoutMs = 10_000,
): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          ...(res.headers.location === undefined ? {} : { location: res.headers.location }),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

describe('mariadb:10.11 and wordpress:6.1-apache from Debian packages', () => {
  it('initialises an empty data dir from the environment, keeps it across containers, serves WordPress', async () => {
    // MYSQL_* names for some, MARIADB_* for others: the image takes either.
    const first = await startDatabase({
      MARIADB_ROOT_PASSWORD: DB.root,
      MYSQL_DATABASE: DB.name,
      MARIADB_USER: DB.user,
      MYSQL_PASSWORD: DB.password,
    });
    const firstLogs = await containerOutput(docker(), first.id);
    expect(firstLogs.stderr).toContain('initialising the database files');

    const created = await mariadbClient(
      "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'kept across containers');",
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);

    // SIGTERM stops the server cleanly, well inside the grace period.
    const stopped = await stopGracefully(first, 30);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.ms).toBeLessThan(25_000);
    expect((await containerOutput(docker(), first.id)).stderr).toMatch(/Shutdown complete/);
    await removeContainerIfPresent(docker(), first.id);

    // A new container on the same directory: no initialisation, the row is there. The
    // passwords in its environment are not read again (the root one here differs).
    const second = await startDatabase({
      MARIADB_ROOT_PASSWORD: 'another-root-password',
      MARIADB_DATABASE: DB.name,
      MARIADB_USER: DB.user,
      MARIADB_PASSWORD: DB.password,
    });
    const secondLogs = await containerOutput(docker(), second.id);
    expect(secondLogs.stderr).toContain('starting without initialisation');
    expect(secondLogs.stderr).not.toContain('initialising the database files');
    const read = await mariadbClient('SELECT body FROM notes WHERE id = 1;');
    expect(read.code).toBe(0);
    expect(read.stdout.trim()).toBe('kept across containers');

    // WordPress reaches the database through the alias `mysql`, its default host.
    const wordpress = await start(WORDPRESS, {
      env: {
        WORDPRESS_DB_USER: DB.user,
        WORDPRESS_DB_PASSWORD: DB.password,
        WORDPRESS_DB_NAME: DB.name,
      },
      publish: '80/tcp',
    });
    const port = await waitFor(async () => {
      const info = await wordpress.inspect();
      return info.NetworkSettings.Ports['80/tcp']?.[0]?.HostPort;
    }, 'the published port of wordpress');
    const base = `http://127.0.0.1:${port}`;

    const install = await waitFor(
      // Until Apache listens, the published port accepts and then drops the connection.
      () => get(`${base}/wp-admin/install.php`).catch(() => undefined),
      'wordpress to answer /wp-admin/install.php',
      60_000,
    );
    expect(install.status).toBe(200);
    expect(install.body).toContain('name="weblog_title"');
    expect(install.body).toContain('name="admin_password"');

    // Before install, `/` sends the browser to the installer on the host it asked for.
    const root = await get(`${base}/`);
    expect(root.status).toBe(302);
    expect(root.location).toBe(`${base}/wp-admin/install.php`);

    // Apache as PID 1 stops on SIGTERM without waiting for the grace period to run out.
    const wpStopped = await stopGracefully(wordpress, 20);
    expect(wpStopped.exitCode).toBe(0);
    expect(wpStopped.ms).toBeLessThan(15_000);
  }, 300_000);
});
