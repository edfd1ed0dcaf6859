import { randomBytes } from 'node:crypto';
import Dockerode from 'dockerode';
import { connectionOptions } from '../../operator/agent/docker-runtime.js';

/**
 * Shared Docker access for tests: one client per test worker, names and labels that mark
 * everything a test creates so cleanup (and a person looking at `docker ps -a`) can find it.
 */

/** Every container or image a test creates carries this label. */
export const TEST_LABEL_KEY = 'io.berth.test';
export const TEST_LABELS: Readonly<Record<string, string>> = { [TEST_LABEL_KEY]: '1' };

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** Where the Docker Engine answers, read as the agent reads it (DOCKER_HOST, else the socket). */
export function dockerConnectionOptions(
  env: NodeJS.ProcessEnv = process.env,
): Dockerode.DockerOptions {
  return connectionOptions(undefined, env);
}

let shared: Dockerode | undefined;

/** The worker's Docker client, created on first use. */
export function docker(): Dockerode {
  shared ??= new Dockerode(dockerConnectionOptions());
  return shared;
}

/** `berth-test-<random>`: unique across parallel workers and repeated runs. */
export function uniqueTestName(prefix = 'berth-test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** Removes a container (running or not); a container that is already gone is not an error. */
export async function removeContainerIfPresent(client: Dockerode, idOrName: string): Promise<void> {
  try {
    await client.getContainer(idOrName).remove({ force: true, v: true });
  } catch (error) {
    if (dockerStatusCode(error) === 404) return;
    // 409 "removal already in progress": another cleanup got there first.
    if (dockerStatusCode(error) === 409) return;
    throw error;
  }
}

/** The HTTP status of a dockerode error, if it has one. */
export function dockerStatusCode(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const status = (error as { statusCode: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

export interface ContainerOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Splits the log stream of a container created without a TTY: Docker prefixes each chunk
 * with an 8-byte header (stream 1 = stdout, 2 = stderr, then a big-endian length).
 */
export function demuxDockerStream(raw: Buffer): ContainerOutput {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const stream = raw[offset];
    const length = raw.readUInt32BE(offset + 4);
    const chunk = raw.subarray(offset + 8, offset + 8 + length);
    if (stream === 2) stderr.push(chunk);
    else stdout.push(chunk);
    offset += 8 + length;
  }
  return {
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
  };
}

/** Full logs so far of a non-TTY container, split by stream. */
export async function containerOutput(
  client: Dockerode,
  idOrName: string,
): Promise<ContainerOutput> {
  const raw = await client
    .getContainer(idOrName)
    .logs({ stdout: true, stderr: true, follow: false });
  return demuxDockerStream(raw);
}
