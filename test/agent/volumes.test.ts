import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import type { PreparedVolume, SandboxInfo } from '../../operator/agent/runtime.js';
import {
  podVolumeDir,
  prepareVolumes,
  removePodVolumes,
  tmpfsVolumeName,
} from '../../operator/agent/volumes.js';
import type { Container, Pod, Volume } from '../../operator/model/generated/types.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { type GitHttpServer, startGitHttpServer } from '../helpers/git-http-server.js';
import { commitFiles, git, initRepo, makeTempDir } from '../helpers/git-repo.js';

/** Each volume kind prepared for real and mounted into containers on the real engine. */

const node = uniqueTestName('test-node');
let runtime: DockerRuntime;
let dataDir: { path: string; remove(): void };
let scratch: { path: string; remove(): void };
const podUids: string[] = [];

beforeAll(async () => {
  runtime = createDockerRuntime();
  dataDir = makeTempDir('agent-data');
  scratch = makeTempDir('agent-scratch');
  await ensureTestImage(docker());
});

afterAll(async () => {
  for (const container of await runtime.list(node)) await runtime.remove(container.id);
  for (const uid of podUids) await removePodVolumes(uid, dataDir.path, runtime, node);
  dataDir.remove();
  scratch.remove();
});

function makePod(volumes: Volume[], containers: Partial<Container>[] = []): Pod {
  const uid = randomUUID();
  podUids.push(uid);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: uniqueTestName('vol'), namespace: 'default', uid },
    spec: {
      volumes,
      containers: containers.map((container, index) => ({
        name: `c${index}`,
        image: TEST_IMAGE,
        command: ['sleep', '3600'],
        ...container,
      })),
    },
  };
}

async function prepared(pod: Pod): Promise<Map<string, PreparedVolume>> {
  const result = await prepareVolumes(pod, dataDir.path, runtime, { node });
  if (!result.ok) throw new Error(result.message);
  return result.volumes;
}

async function startContainer(
  pod: Pod,
  sandbox: SandboxInfo,
  index: number,
  volumes: ReadonlyMap<string, PreparedVolume>,
): Promise<string> {
  const id = await runtime.createContainer({
    pod,
    node,
    sandbox,
    containerIndex: index,
    specHash: 'h',
    restartCount: 0,
    volumes,
  });
  await runtime.start(id);
  return id;
}

async function sh(id: string, script: string): Promise<{ exitCode: number; output: string }> {
  return runtime.exec(id, ['sh', '-c', script], 10_000);
}

/** Two containers sharing `mount` at /data: c0 writes, c1 reads; c0 re-created still sees it. */
async function expectSharedAndSurviving(volume: Volume): Promise<{ writer: string; pod: Pod }> {
  const mounts = [{ name: volume.name, mountPath: '/data' }];
  const pod = makePod([volume], [{ volumeMounts: mounts }, { volumeMounts: mounts }]);
  const volumes = await prepared(pod);
  const sandbox = await runtime.createSandbox(pod, node);
  const writer = await startContainer(pod, sandbox, 0, volumes);
  const reader = await startContainer(pod, sandbox, 1, volumes);
  expect(await sh(writer, 'echo shared > /data/file')).toMatchObject({ exitCode: 0 });
  expect(await sh(reader, 'cat /data/file')).toEqual({ exitCode: 0, output: 'shared\n' });

  await runtime.remove(writer);
  // Prepared again as the agent does before a re-creation: the content stays.
  const again = await prepared(pod);
  const replacement = await startContainer(pod, sandbox, 0, again);
  expect(await sh(replacement, 'cat /data/file')).toEqual({ exitCode: 0, output: 'shared\n' });
  return { writer: replacement, pod };
}

describe('emptyDir', () => {
  it('is a folder under the data dir, shared and surviving a container re-creation', async () => {
    const { pod } = await expectSharedAndSurviving({ name: 'scratch', emptyDir: {} });
    const uid = pod.metadata.uid ?? '';
    const dir = podVolumeDir(dataDir.path, uid, 'scratch');
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('shared\n');

    for (const container of await runtime.list(node)) {
      if (container.podUid === uid) await runtime.remove(container.id);
    }
    await removePodVolumes(uid, dataDir.path, runtime, node);
    expect(existsSync(join(dataDir.path, 'pods', uid))).toBe(false);
  });

  it('medium Memory is one tmpfs engine volume, shared, with its size limit', async () => {
    const { writer, pod } = await expectSharedAndSurviving({
      name: 'fast',
      emptyDir: { medium: 'Memory', sizeLimit: '8Mi' },
    });
    const mount = await sh(writer, 'grep " /data " /proc/mounts');
    expect(mount.output).toMatch(/^tmpfs \/data tmpfs .*size=8192k/);
    const uid = pod.metadata.uid ?? '';
    const name = tmpfsVolumeName(uid, 'fast');
    expect((await docker().getVolume(name).inspect()).Options).toMatchObject({ type: 'tmpfs' });

    for (const container of await runtime.list(node)) {
      if (container.podUid === uid) await runtime.remove(container.id);
    }
    await removePodVolumes(uid, dataDir.path, runtime, node);
    const left = await docker().listVolumes({ filters: { name: [name] } });
    expect(left.Volumes ?? []).toEqual([]);
  });

  it('mounts a subPath of a volume, created when missing', async () => {
    const pod = makePod(
      [{ name: 'shared', emptyDir: {} }],
      [
        { volumeMounts: [{ name: 'shared', mountPath: '/whole' }] },
        { volumeMounts: [{ name: 'shared', mountPath: '/part', subPath: 'nested/dir' }] },
      ],
    );
    const volumes = await prepared(pod);
    const sandbox = await runtime.createSandbox(pod, node);
    const whole = await startContainer(pod, sandbox, 0, volumes);
    const part = await startContainer(pod, sandbox, 1, volumes);
    expect(await sh(part, 'echo in-part > /part/f')).toMatchObject({ exitCode: 0 });
    expect(await sh(whole, 'cat /whole/nested/dir/f')).toEqual({
      exitCode: 0,
      output: 'in-part\n',
    });
  });

  it('refuses an unknown medium', async () => {
    const pod = makePod([{ name: 'huge', emptyDir: { medium: 'HugePages' } }]);
    const result = await prepareVolumes(pod, dataDir.path, runtime, { node });
    expect(result).toMatchObject({ ok: false, reason: 'VolumeError', volume: 'huge' });
  });
});

describe('hostPath', () => {
  it('DirectoryOrCreate creates the folder; writes show on the host; readOnly refuses writes', async () => {
    const hostDir = join(scratch.path, 'made', 'by-agent');
    const pod = makePod(
      [{ name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } }],
      [
        { volumeMounts: [{ name: 'host', mountPath: '/host' }] },
        { volumeMounts: [{ name: 'host', mountPath: '/host', readOnly: true }] },
      ],
    );
    const volumes = await prepared(pod);
    expect(existsSync(hostDir)).toBe(true);
    const sandbox = await runtime.createSandbox(pod, node);
    const writable = await startContainer(pod, sandbox, 0, volumes);
    const readOnly = await startContainer(pod, sandbox, 1, volumes);
    expect(await sh(writable, 'echo from-container > /host/out')).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(hostDir, 'out'), 'utf8')).toBe('from-container\n');
    expect(await sh(readOnly, 'cat /host/out')).toEqual({
      exitCode: 0,
      output: 'from-container\n',
    });
    const refused = await sh(readOnly, 'echo nope > /host/other');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.output).toMatch(/read-only/i);
    expect(existsSync(join(hostDir, 'other'))).toBe(false);
  });

  it('checks the type of what is there', async () => {
    const file = join(scratch.path, 'a-file');
    writeFileSync(file, 'x');
    const cases: [Volume, RegExp | undefined][] = [
      [
        { name: 'v', hostPath: { path: join(scratch.path, 'missing'), type: 'Directory' } },
        /missing/,
      ],
      [{ name: 'v', hostPath: { path: file, type: 'Directory' } }, /a File, type Directory/],
      [{ name: 'v', hostPath: { path: scratch.path, type: 'File' } }, /a Directory/],
      [{ name: 'v', hostPath: { path: file, type: 'File' } }, undefined],
      [
        { name: 'v', hostPath: { path: join(scratch.path, 'new', 'f'), type: 'FileOrCreate' } },
        undefined,
      ],
      [{ name: 'v', hostPath: { path: 'relative/path' } }, /not absolute/],
    ];
    for (const [volume, error] of cases) {
      const result = await prepareVolumes(makePod([volume]), dataDir.path, runtime, { node });
      if (error === undefined) {
        expect(result.ok, JSON.stringify(volume)).toBe(true);
      } else {
        expect(result.ok, JSON.stringify(volume)).toBe(false);
        expect(!result.ok && result.message).toMatch(error);
      }
    }
    expect(readFileSync(join(scratch.path, 'new', 'f'), 'utf8')).toBe('');
  });
});

describe('gitRepo', () => {
  let server: GitHttpServer;
  let first: string;
  let second: string;

  beforeAll(async () => {
    const work = initRepo(join(scratch.path, 'work'));
    first = commitFiles(work, { 'README.md': 'first\n', 'config/app.yaml': 'v: 1\n' });
    second = commitFiles(work, { 'README.md': 'second\n' });
    mkdirSync(join(scratch.path, 'served'));
    git(scratch.path, 'clone', '-q', '--bare', work, join(scratch.path, 'served', 'app.git'));
    server = await startGitHttpServer(join(scratch.path, 'served'));
  });

  afterAll(async () => {
    await server?.close();
  });

  it('clones at the revision into the directory and mounts it', async () => {
    const pod = makePod(
      [
        {
          name: 'at-first',
          gitRepo: { repository: server.url('app.git'), revision: first, directory: '.' },
        },
        { name: 'default-dir', gitRepo: { repository: server.url('app.git') } },
        {
          name: 'named',
          gitRepo: { repository: server.url('app.git'), revision: second, directory: 'src' },
        },
      ],
      [
        {
          volumeMounts: [
            { name: 'at-first', mountPath: '/first' },
            { name: 'default-dir', mountPath: '/default' },
            { name: 'named', mountPath: '/named' },
          ],
        },
      ],
    );
    const volumes = await prepared(pod);
    const sandbox = await runtime.createSandbox(pod, node);
    const id = await startContainer(pod, sandbox, 0, volumes);
    expect((await sh(id, 'cat /first/README.md /first/config/app.yaml')).output).toBe(
      'first\nv: 1\n',
    );
    expect((await sh(id, 'cat /default/app/README.md')).output).toBe('second\n');
    expect((await sh(id, 'cat /named/src/README.md')).output).toBe('second\n');

    // Prepared again (a container re-creation): the clone is kept, not redone.
    const requests = server.requests;
    await prepared(pod);
    expect(server.requests).toBe(requests);
  });

  it('reports a missing repository, a bad revision and a bad directory as VolumeError', async () => {
    const cases: Volume[] = [
      { name: 'g', gitRepo: { repository: server.url('missing.git') } },
      { name: 'g', gitRepo: { repository: server.url('app.git'), revision: 'f'.repeat(40) } },
      { name: 'g', gitRepo: { repository: server.url('app.git'), directory: '../escape' } },
      { name: 'g', gitRepo: { repository: 'file:///etc' } },
    ];
    for (const volume of cases) {
      const result = await prepareVolumes(makePod([volume]), dataDir.path, runtime, { node });
      expect(result, JSON.stringify(volume)).toMatchObject({
        ok: false,
        reason: 'VolumeError',
        volume: 'g',
      });
    }
  });
});

describe('gitRepo network bounds', () => {
  it('follows no redirect and gives up at its deadline', async () => {
    const { createServer } = await import('node:http');
    const held: import('node:http').ServerResponse[] = [];
    const server = createServer((request, response) => {
      if (request.url?.startsWith('/moved')) {
        response.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere.git/info/refs' });
        response.end();
        return;
      }
      held.push(response); // never answers: the clone must time out
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const origin = `http://127.0.0.1:${address.port}`;
    try {
      const moved = await prepareVolumes(
        makePod([{ name: 'g', gitRepo: { repository: `${origin}/moved.git` } }]),
        dataDir.path,
        runtime,
        { node },
      );
      expect(moved).toMatchObject({ ok: false, reason: 'VolumeError', volume: 'g' });
      expect(!moved.ok && moved.message).toMatch(/302/);

      const started = Date.now();
      const hung = await prepareVolumes(
        makePod([{ name: 'g', gitRepo: { repository: `${origin}/hang.git` } }]),
        dataDir.path,
        runtime,
        { node, gitTimeoutMs: 300 },
      );
      expect(hung).toMatchObject({ ok: false, reason: 'VolumeError' });
      expect(!hung.ok && hung.message).toMatch(/within 300 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('unsupported kinds', () => {
  it('refuses secret and other kinds with a clear message', async () => {
    const secret = await prepareVolumes(
      makePod([{ name: 's', secret: { secretName: 'x' } }]),
      dataDir.path,
      runtime,
      { node },
    );
    expect(secret).toMatchObject({ ok: false, reason: 'VolumeError', volume: 's' });
    expect(!secret.ok && secret.message).toMatch(/no Secret objects/);
    const nfs = await prepareVolumes(
      makePod([{ name: 'n', nfs: { server: 'x', path: '/' } }]),
      dataDir.path,
      runtime,
      { node },
    );
    expect(!nfs.ok && nfs.message).toMatch(/nfs is not supported/);
  });
});
