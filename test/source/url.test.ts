import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import nodeHttp from 'isomorphic-git/http/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../operator/model/errors.js';
import { ObjectStore } from '../../operator/source/git-objects.js';
import { GitTreeLister } from '../../operator/source/git-tree.js';
import { createSourceReader, type SourceReaderStats } from '../../operator/source/index.js';
import { UrlFetcher } from '../../operator/source/url.js';
import { type GitHttpServer, startGitHttpServer } from '../helpers/git-http-server.js';
import { commitFiles, git, gitAsync, initRepo, makeTempDir, podYaml } from '../helpers/git-repo.js';

const temp = makeTempDir('source-url');
let server: GitHttpServer;
let work: string;
let url: string;

async function expectError(
  promise: Promise<unknown>,
  code: string,
): Promise<Error & { retry: boolean }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBerthError(error), `expected a BerthError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error & { retry: boolean };
}

/** A port on 127.0.0.1 that nothing listens on: bound by the kernel, then released. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const served = path.join(temp.path, 'served');
  work = initRepo(path.join(temp.path, 'work'));
  commitFiles(work, {
    'guestbook/frontend.yaml': podYaml('frontend'),
    'other/x.yaml': podYaml('x'),
  });
  git(work, 'tag', '-a', 'v1', '-m', 'release 1');
  git(work, 'branch', 'dev');
  git(temp.path, 'init', '-q', '--bare', path.join(served, 'app.git'));
  server = await startGitHttpServer(served);
  url = server.url('app.git');
  await gitAsync(work, 'push', '-q', url, 'main', 'dev', 'v1');
  git(path.join(served, 'app.git'), 'symbolic-ref', 'HEAD', 'refs/heads/main');
});

afterAll(async () => {
  await server?.close();
  temp.remove();
});

describe('a repository fetched over smart HTTP', () => {
  it('clones the default branch into the cache and lists its files', async () => {
    const cacheDir = path.join(temp.path, 'cache-clone');
    const reader = createSourceReader();
    const snapshot = await reader.open({ location: url, cacheDir });
    expect(snapshot.kind).toBe('url');
    expect(snapshot.location).toBe(url);
    expect(snapshot.commit).toBe(git(work, 'rev-parse', 'main'));
    expect(snapshot.files.map((f) => f.path)).toEqual(['guestbook/frontend.yaml', 'other/x.yaml']);
    expect(
      Buffer.from(await (snapshot.files[0] as { read(): Promise<Uint8Array> }).read()).toString(),
    ).toBe(podYaml('frontend'));
    expect(reader.stats.fetches).toBe(1);
  });

  it('sees a commit pushed with real git on the next open (a failed fetch is never hidden)', async () => {
    const cacheDir = path.join(temp.path, 'cache-update');
    const reader = createSourceReader();
    const before = await reader.open({ location: url, cacheDir, path: 'guestbook' });
    expect(before.files.map((f) => f.path)).toEqual(['guestbook/frontend.yaml']);

    const pushed = commitFiles(work, { 'guestbook/redis.yaml': podYaml('redis') });
    await gitAsync(work, 'push', '-q', url, 'main');
    const after = await reader.open({ location: url, cacheDir, path: 'guestbook' });
    expect(after.commit).toBe(pushed);
    expect(after.files.map((f) => f.path)).toEqual([
      'guestbook/frontend.yaml',
      'guestbook/redis.yaml',
    ]);
    // The unchanged file is the same object: only the new commit's trees were read.
    expect(after.files[0]).toBe(before.files[0]);
    expect(reader.stats.fetches).toBe(2);
  });

  it('fetches a branch, an annotated tag and a commit sha', async () => {
    const cacheDir = path.join(temp.path, 'cache-refs');
    const reader = createSourceReader();
    const dev = await reader.open({ location: url, cacheDir, ref: 'dev' });
    expect(dev.commit).toBe(git(work, 'rev-parse', 'dev'));
    const tag = await reader.open({ location: url, cacheDir, ref: 'v1' });
    expect(tag.commit).toBe(git(work, 'rev-parse', 'v1^{commit}'));
    const sha = git(work, 'rev-parse', 'dev');
    const bySha = await createSourceReader().open({
      location: url,
      cacheDir: path.join(temp.path, 'cache-sha'),
      ref: sha,
    });
    expect(bySha.commit).toBe(sha);
    const short = await createSourceReader().open({
      location: url,
      cacheDir: path.join(temp.path, 'cache-short'),
      ref: sha.slice(0, 8),
    });
    expect(short.commit).toBe(sha);
    // A full sha the cache already holds names fixed content: no fetch is needed.
    const fetchesBefore = reader.stats.fetches;
    const cached = await reader.open({ location: url, cacheDir, ref: sha });
    expect(cached.commit).toBe(sha);
    expect(reader.stats.fetches).toBe(fetchesBefore);
  });

  it('deepens a shallow cache to find an older commit by sha', async () => {
    const cacheDir = path.join(temp.path, 'cache-deepen');
    const reader = createSourceReader();
    await reader.open({ location: url, cacheDir });
    const oldest = git(work, 'rev-list', '--max-parents=0', 'main');
    const snapshot = await reader.open({ location: url, cacheDir, ref: oldest });
    expect(snapshot.commit).toBe(oldest);
    expect(snapshot.files.map((f) => f.path)).toEqual(['guestbook/frontend.yaml', 'other/x.yaml']);
  });

  it('names the remote branches and tags when a ref does not exist', async () => {
    const error = await expectError(
      createSourceReader().open({
        location: url,
        cacheDir: path.join(temp.path, 'cache-missing'),
        ref: 'nope',
      }),
      'SOURCE_REF_NOT_FOUND',
    );
    expect(error.message).toBe(`ref 'nope' not found in ${url}; branches: dev, main; tags: v1`);
  });

  it('fails with SOURCE_UNREACHABLE (retryable) when nothing listens', async () => {
    const port = await closedPort();
    const deadUrl = `http://127.0.0.1:${port}/app.git`;
    const error = await expectError(
      createSourceReader().open({
        location: deadUrl,
        cacheDir: path.join(temp.path, 'cache-dead'),
      }),
      'SOURCE_UNREACHABLE',
    );
    expect(error.message).toContain(deadUrl);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.retry).toBe(true);
  });

  it('does not fall back to the cached copy when the server goes away', async () => {
    const cacheDir = path.join(temp.path, 'cache-warm');
    const shortLived = await startGitHttpServer(path.join(temp.path, 'served'));
    const reader = createSourceReader();
    const warm = await reader.open({ location: shortLived.url('app.git'), cacheDir });
    expect(warm.files.length).toBeGreaterThan(0);
    await shortLived.close();
    const error = await expectError(
      reader.open({ location: shortLived.url('app.git'), cacheDir }),
      'SOURCE_UNREACHABLE',
    );
    expect(error.retry).toBe(true);
  });

  it('fails with SOURCE_UNREACHABLE (not retryable) for a repository the server does not have', async () => {
    const error = await expectError(
      createSourceReader().open({
        location: server.url('missing.git'),
        cacheDir: path.join(temp.path, 'cache-404'),
      }),
      'SOURCE_UNREACHABLE',
    );
    expect(error.message).toContain('HTTP 404');
    expect(error.retry).toBe(false);
  });

  it.each([
    'ssh://git@example.com/owner/repo.git',
    'git://example.com/owner/repo.git',
    'file:///tmp/repo.git',
    'http://example.com/owner/repo.git',
  ])('refuses %s', async (location) => {
    await expectError(createSourceReader().open({ location }), 'SOURCE_UNSUPPORTED_URL');
  });

  it('starts the cache afresh when fetches have piled up packs, and still reads the newest commit', async () => {
    const cacheDir = path.join(temp.path, 'cache-packs');
    const stats: SourceReaderStats = { treesRead: 0, blobSizesRead: 0, filesHashed: 0, fetches: 0 };
    const store = new ObjectStore(stats);
    const fetcher = new UrlFetcher(store, stats, {
      http: nodeHttp,
      idleTimeoutMs: 10_000,
      maxPacks: 2,
    });
    const lister = new GitTreeLister(store);
    const packCount = () => {
      const [folder] = readdirSync(cacheDir);
      return readdirSync(path.join(cacheDir, folder as string, 'objects', 'pack')).filter((n) =>
        n.endsWith('.pack'),
      ).length;
    };
    const seen: number[] = [];
    for (let round = 0; round < 4; round += 1) {
      const pushed = commitFiles(work, { [`rounds/r${round}.yaml`]: podYaml(`r${round}`) });
      await gitAsync(work, 'push', '-q', url, 'main');
      await store.refresh();
      const { repository, commit } = await fetcher.fetch(new URL(url), 'main', cacheDir);
      expect(commit.commit).toBe(pushed);
      const list = await lister.list(repository, commit, 'rounds');
      expect(list.files.map((f) => f.path)).toEqual(
        Array.from({ length: round + 1 }, (_, i) => `rounds/r${i}.yaml`),
      );
      seen.push(packCount());
    }
    // One pack per fetch, until a third would pass the limit: then one fresh pack.
    expect(seen).toEqual([1, 2, 1, 2]);
  });
});
