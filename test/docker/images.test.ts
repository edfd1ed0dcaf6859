import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import Dockerode from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import {
  containerOutput,
  docker,
  dockerConnectionOptions,
  dockerStatusCode,
  removeContainerIfPresent,
  TEST_LABELS,
  uniqueTestName,
} from '../helpers/docker.js';
import { ensureTestImage, splitImageName } from '../helpers/docker-images.js';
import { tarArchive } from '../helpers/docker-tar.js';

// Each test works on its own tag so it never disturbs the shared berth-test/busybox:1.
const imageNames: string[] = [];
const containerIds: string[] = [];
function freshImageName(): string {
  const name = `berth-test/busybox-selftest:${randomBytes(6).toString('hex')}`;
  imageNames.push(name);
  return name;
}

afterEach(async () => {
  const client = docker();
  for (const id of containerIds.splice(0)) await removeContainerIfPresent(client, id);
  for (const name of imageNames.splice(0)) {
    try {
      await client.getImage(name).remove({ force: true });
    } catch (error) {
      if (dockerStatusCode(error) !== 404) throw error;
    }
  }
});

/** Runs a command in the image to completion and returns its exit code and output. */
async function runInImage(image: string, cmd: string[]) {
  const client = docker();
  const container = await client.createContainer({
    name: uniqueTestName(),
    Image: image,
    Cmd: cmd,
    Labels: { ...TEST_LABELS },
  });
  containerIds.push(container.id);
  await container.start();
  const { StatusCode } = (await container.wait()) as { StatusCode: number };
  return { status: StatusCode, ...(await containerOutput(client, container.id)) };
}

async function imageIdsTagged(name: string): Promise<string[]> {
  const images = await docker().listImages({ filters: { reference: [name] } });
  return images.map((image) => image.Id);
}

describe('ensureTestImage', () => {
  it('builds a runnable busybox image without a registry: applets on PATH, sticky /tmp, users', async () => {
    const name = freshImageName();
    const result = await ensureTestImage(docker(), name);
    expect(result.built).toBe(true);
    expect(result.id).toMatch(/^sha256:[0-9a-f]{64}$/);

    const inspect = await docker().getImage(name).inspect();
    expect(inspect.Config.Cmd).toEqual(['/bin/sh']);
    expect(inspect.Config.Env).toContain(
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );

    const run = await runInImage(name, [
      'sh',
      '-c',
      // busybox sh resolves applets internally, so check the symlinks themselves.
      'for f in /bin/sh /bin/sleep /bin/echo /bin/cat /usr/bin/wget /usr/bin/nc /usr/sbin/httpd; do readlink "$f"; done; stat -c %a /tmp; grep ^nobody: /etc/passwd | cut -d: -f3',
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      ...Array.from({ length: 7 }, () => '/bin/busybox'),
      '1777',
      '65534',
    ]);
    // The runtime finds applets through the image's PATH without a shell in between.
    const direct = await runInImage(name, ['wget', '--help']);
    expect(direct.stderr).toContain('Usage: wget');
  });

  it('does nothing when the image from the same recipe is already tagged', async () => {
    const name = freshImageName();
    const first = await ensureTestImage(docker(), name);
    const second = await ensureTestImage(new Dockerode(dockerConnectionOptions()), name);
    expect(second).toEqual({ name, id: first.id, built: false });
  });

  it('lets parallel workers ask at once: all succeed, exactly one imports, nothing dangles', async () => {
    const name = freshImageName();
    // Separate clients do not share the in-process guard: like separate vitest workers.
    const workers = Array.from({ length: 3 }, () => new Dockerode(dockerConnectionOptions()));
    const results = await Promise.all(workers.map((client) => ensureTestImage(client, name)));
    const tagged = await docker().getImage(name).inspect();
    expect(results.filter((result) => result.built)).toHaveLength(1);
    expect(new Set(results.map((result) => result.id))).toEqual(new Set([tagged.Id]));
    expect(await imageIdsTagged(name)).toEqual([tagged.Id]);
    const run = await runInImage(name, ['echo', 'built in parallel']);
    expect(run).toMatchObject({ status: 0, stdout: 'built in parallel\n' });
  });

  it('shares one build between concurrent calls on the same client', async () => {
    const name = freshImageName();
    const client = new Dockerode(dockerConnectionOptions());
    const [a, b] = await Promise.all([
      ensureTestImage(client, name),
      ensureTestImage(client, name),
    ]);
    expect(a).toBe(b);
  });

  it('replaces an image of another recipe that holds the tag', async () => {
    const name = freshImageName();
    const { repo, tag } = splitImageName(name);
    const stub = tarArchive([
      { kind: 'file', path: 'stub', mode: 0o644, content: Buffer.from('old') },
    ]);
    const progress = await docker().importImage(Readable.from([stub]), { repo, tag });
    await new Promise<void>((resolve, reject) => {
      docker().modem.followProgress(progress, (error) =>
        error === null ? resolve() : reject(error),
      );
    });
    const stale = await docker().getImage(name).inspect();

    const result = await ensureTestImage(docker(), name);
    expect(result.built).toBe(true);
    expect(result.id).not.toBe(stale.Id);
    const run = await runInImage(name, ['cat', '/etc/group']);
    expect(run.stdout).toContain('root:x:0:');
    // Nothing used the stale image, so it was removed rather than left dangling.
    await expect(docker().getImage(stale.Id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('splitImageName', () => {
  it('separates the tag but not a registry port', () => {
    expect(splitImageName('berth-test/busybox:1')).toEqual({
      repo: 'berth-test/busybox',
      tag: '1',
    });
    expect(splitImageName('redis')).toEqual({ repo: 'redis', tag: 'latest' });
    expect(splitImageName('localhost:5000/redis')).toEqual({
      repo: 'localhost:5000/redis',
      tag: 'latest',
    });
  });
});
