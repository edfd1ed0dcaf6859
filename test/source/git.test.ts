import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../operator/model/errors.js';
import { createSourceReader, type SourceSnapshot } from '../../operator/source/index.js';
import {
  commitFiles,
  git,
  initRepo,
  makeTempDir,
  objectCounts,
  podYaml,
} from '../helpers/git-repo.js';

const temp = makeTempDir('source-git');
afterAll(() => temp.remove());

/** Paths and blob ids of a snapshot, the way `git ls-tree -r` would list the same files. */
function listing(snapshot: SourceSnapshot): string[] {
  return snapshot.files.map((file) => `${file.blobId} ${file.path}`);
}

/** What real git says: `<blob> <path>` of the manifest files at `rev`, below `under`. */
function gitListing(dir: string, rev: string, under = ''): string[] {
  const out = git(dir, 'ls-tree', '-r', rev, ...(under === '' ? [] : ['--', under]));
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [meta, file] = line.split('\t') as [string, string];
      const [mode, , oid] = meta.split(' ');
      return { mode, oid, file };
    })
    .filter((e) => e.mode !== '120000' && e.mode !== '160000' && /\.(ya?ml|json)$/.test(e.file))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((e) => `${e.oid} ${e.file}`);
}

async function expectError(
  promise: Promise<unknown>,
  code: string,
): Promise<Error & { code: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBerthError(error), `expected a BerthError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error & { code: string };
}

describe('a working tree read at a ref', () => {
  let repo: string;
  let first: string;
  let second: string;

  beforeAll(() => {
    repo = initRepo(path.join(temp.path, 'work'));
    first = commitFiles(repo, {
      'guestbook/frontend.yaml': podYaml('frontend'),
      'guestbook/redis.yml': podYaml('redis'),
      'guestbook/notes.txt': 'not a manifest',
      'top.json': '{"apiVersion":"v1","kind":"Pod"}',
      'deep/a/b/c.yaml': podYaml('c'),
    });
    git(repo, 'tag', 'v1');
    git(repo, 'tag', '-a', 'v1-annotated', '-m', 'annotated tag');
    git(repo, 'checkout', '-q', '-b', 'dev');
    commitFiles(repo, { 'guestbook/dev-only.yaml': podYaml('dev-only') });
    git(repo, 'checkout', '-q', 'main');
    second = commitFiles(repo, { 'guestbook/frontend.yaml': podYaml('frontend', 'nginx:1.25') });
    // Uncommitted changes must not show at a ref.
    writeFileSync(path.join(repo, 'guestbook', 'uncommitted.yaml'), podYaml('uncommitted'));
    writeFileSync(path.join(repo, 'guestbook', 'redis.yml'), podYaml('redis-edited'));
  });

  it('lists the manifest files of HEAD as git does, sorted, with blob ids and sizes', async () => {
    const snapshot = await createSourceReader().open({ location: repo, ref: 'HEAD' });
    expect(snapshot.kind).toBe('git');
    expect(snapshot.commit).toBe(second);
    expect(listing(snapshot)).toEqual(gitListing(repo, 'HEAD'));
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'deep/a/b/c.yaml',
      'guestbook/frontend.yaml',
      'guestbook/redis.yml',
      'top.json',
    ]);
    const frontend = snapshot.files.find((f) => f.path === 'guestbook/frontend.yaml');
    expect(frontend?.display).toBe('guestbook/frontend.yaml');
    expect(frontend?.size).toBe(Buffer.byteLength(podYaml('frontend', 'nginx:1.25')));
    expect(Buffer.from((await frontend?.read()) ?? []).toString('utf8')).toBe(
      podYaml('frontend', 'nginx:1.25'),
    );
    const redis = snapshot.files.find((f) => f.path === 'guestbook/redis.yml');
    expect(Buffer.from((await redis?.read()) ?? []).toString('utf8')).toBe(podYaml('redis'));
    expect(snapshot.problems).toEqual([]);
  });

  it.each([
    ['a branch', 'dev'],
    ['a lightweight tag', 'v1'],
    ['an annotated tag', 'v1-annotated'],
    ['a full sha', 'FIRST'],
    ['a short sha', 'FIRST7'],
    ['a fully qualified ref', 'refs/heads/dev'],
  ])('resolves %s', async (_what, ref) => {
    const wanted = ref === 'FIRST' ? first : ref === 'FIRST7' ? first.slice(0, 7) : ref;
    const expectedCommit = git(repo, 'rev-parse', `${wanted}^{commit}`);
    const snapshot = await createSourceReader().open({ location: repo, ref: wanted });
    expect(snapshot.commit).toBe(expectedCommit);
    expect(listing(snapshot)).toEqual(gitListing(repo, expectedCommit));
  });

  it('reads only below --path, keeping paths relative to the repository root', async () => {
    const snapshot = await createSourceReader().open({
      location: repo,
      ref: 'dev',
      path: './guestbook/',
    });
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'guestbook/dev-only.yaml',
      'guestbook/frontend.yaml',
      'guestbook/redis.yml',
    ]);
    expect(listing(snapshot)).toEqual(gitListing(repo, 'dev', 'guestbook'));
  });

  it('reads a folder of the working tree with --ref as that folder of the commit', async () => {
    const snapshot = await createSourceReader().open({
      location: path.join(repo, 'guestbook'),
      ref: 'main',
    });
    expect(snapshot.kind).toBe('git');
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'guestbook/frontend.yaml',
      'guestbook/redis.yml',
    ]);
    const nested = await createSourceReader().open({
      location: path.join(repo, 'deep'),
      ref: 'main',
      path: 'a',
    });
    expect(nested.files.map((f) => f.path)).toEqual(['deep/a/b/c.yaml']);
  });

  it('names the branches and tags when a ref does not exist', async () => {
    const error = await expectError(
      createSourceReader().open({ location: repo, ref: 'nope' }),
      'SOURCE_REF_NOT_FOUND',
    );
    expect(error.message).toBe(
      `ref 'nope' not found in ${repo}; branches: dev, main; tags: v1, v1-annotated`,
    );
  });

  it('refuses refs that are not ref names (no reading outside refs/)', async () => {
    for (const ref of ['../../config', 'main~1', 'a b', '-x']) {
      const error = await expectError(
        createSourceReader().open({ location: repo, ref }),
        'SOURCE_REF_NOT_FOUND',
      );
      expect(error.message).toContain(ref);
    }
  });

  it('treats an unknown full sha as a ref that is not found', async () => {
    await expectError(
      createSourceReader().open({ location: repo, ref: 'f'.repeat(40) }),
      'SOURCE_REF_NOT_FOUND',
    );
  });

  it('says when --path is not in the commit, and lists the top folders', async () => {
    const error = await expectError(
      createSourceReader().open({ location: repo, ref: 'main', path: 'missing' }),
      'SOURCE_PATH_NOT_FOUND',
    );
    expect(error.message).toContain(
      `--path 'missing' is not in the tree at commit ${second.slice(0, 12)}`,
    );
    expect((error as unknown as { hint: string }).hint).toContain('deep, guestbook');
    await expectError(
      createSourceReader().open({ location: repo, ref: 'main', path: '../x' }),
      'SOURCE_PATH_NOT_FOUND',
    );
  });

  it('lists one file when --path names a file', async () => {
    const snapshot = await createSourceReader().open({
      location: repo,
      ref: 'main',
      path: 'top.json',
    });
    expect(snapshot.files.map((f) => f.path)).toEqual(['top.json']);
  });
});

describe('repositories of every shape', () => {
  it('reads a bare repository at HEAD without --ref, and at a branch', async () => {
    const work = initRepo(path.join(temp.path, 'for-bare'));
    commitFiles(work, { 'app/pod.yaml': podYaml('one') });
    const bare = path.join(temp.path, 'bare.git');
    git(temp.path, 'clone', '-q', '--bare', work, bare);
    const snapshot = await createSourceReader().open({ location: bare });
    expect(snapshot.kind).toBe('git');
    expect(snapshot.commit).toBe(git(work, 'rev-parse', 'HEAD'));
    expect(listing(snapshot)).toEqual(gitListing(work, 'HEAD'));
    const atBranch = await createSourceReader().open({ location: bare, ref: 'main', path: 'app' });
    expect(atBranch.files.map((f) => f.path)).toEqual(['app/pod.yaml']);
  });

  it('reads the same files from loose objects and after git gc packed them', async () => {
    const repo = initRepo(path.join(temp.path, 'packing'));
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i += 1)
      files[`team-${i % 6}/app-${i}.yaml`] = podYaml(`app-${i}`, `img:${i}`);
    commitFiles(repo, files);
    for (let i = 0; i < 5; i += 1)
      commitFiles(repo, { [`team-0/app-${i}.yaml`]: podYaml(`app-${i}`, `img:v${i}`) });
    expect(objectCounts(path.join(repo, '.git')).packs).toBe(0);
    const loose = await createSourceReader().open({ location: repo, ref: 'HEAD' });
    const looseBytes = await Promise.all(
      loose.files.map(async (f) => Buffer.from(await f.read()).toString()),
    );

    git(repo, 'gc', '-q', '--aggressive');
    const counts = objectCounts(path.join(repo, '.git'));
    expect(counts).toEqual({ loose: 0, packs: 1 });
    for (const objectReader of ['native', 'isomorphic-git'] as const) {
      const packed = await createSourceReader({ objectReader }).open({
        location: repo,
        ref: 'HEAD',
      });
      expect(listing(packed)).toEqual(listing(loose));
      expect(packed.files.map((f) => f.size)).toEqual(loose.files.map((f) => f.size));
      const packedBytes = await Promise.all(
        packed.files.map(async (f) => Buffer.from(await f.read()).toString()),
      );
      expect(packedBytes).toEqual(looseBytes);
    }
    expect(listing(loose)).toEqual(gitListing(repo, 'HEAD'));
  });

  it('knows the size of large files, loose and packed, and reads them right', async () => {
    const repo = initRepo(path.join(temp.path, 'large'));
    const big = `# ${'x'.repeat(3 * 1024 * 1024)}\n${podYaml('big')}`;
    const bigger = `${big}# and a change at the end\n`;
    const older = commitFiles(repo, { 'big.yaml': big });
    const newer = commitFiles(repo, { 'big.yaml': bigger });
    for (const packed of [false, true]) {
      // Packed, the newer version is stored as a delta against the older (or the other way).
      if (packed) git(repo, 'gc', '-q');
      for (const ref of [newer, older]) {
        const snapshot = await createSourceReader().open({ location: repo, ref });
        const file = snapshot.files[0] as { size: number; read(): Promise<Uint8Array> };
        const expected = ref === newer ? bigger : big;
        expect(file.size).toBe(Buffer.byteLength(expected));
        expect(Buffer.from(await file.read()).toString()).toBe(expected);
      }
    }
  });

  it('a long-lived reader sees objects packed by gc after it opened the repository', async () => {
    const repo = initRepo(path.join(temp.path, 'gc-later'));
    commitFiles(repo, { 'a.yaml': podYaml('a') });
    const reader = createSourceReader();
    const before = await reader.open({ location: repo, ref: 'HEAD' });
    commitFiles(repo, { 'b.yaml': podYaml('b') });
    git(repo, 'gc', '-q', '--prune=now');
    const after = await reader.open({ location: repo, ref: 'HEAD' });
    expect(after.files.map((f) => f.path)).toEqual(['a.yaml', 'b.yaml']);
    // The file of the first snapshot is still readable, now from the pack.
    expect(
      Buffer.from(await (before.files[0] as { read(): Promise<Uint8Array> }).read()).toString(),
    ).toBe(podYaml('a'));
  });

  it('reads a linked worktree at its own HEAD', async () => {
    const repo = initRepo(path.join(temp.path, 'with-worktree'));
    commitFiles(repo, { 'main.yaml': podYaml('main') });
    git(repo, 'branch', 'feature');
    const linked = path.join(temp.path, 'linked');
    git(repo, 'worktree', 'add', '-q', linked, 'feature');
    commitFiles(linked, { 'feature.yaml': podYaml('feature') });
    const snapshot = await createSourceReader().open({ location: linked, ref: 'HEAD' });
    expect(snapshot.commit).toBe(git(linked, 'rev-parse', 'HEAD'));
    expect(snapshot.files.map((f) => f.path)).toEqual(['feature.yaml', 'main.yaml']);
  });

  it('says that an empty repository has no commits yet', async () => {
    const repo = initRepo(path.join(temp.path, 'empty'));
    const error = await expectError(
      createSourceReader().open({ location: repo, ref: 'HEAD' }),
      'SOURCE_REF_NOT_FOUND',
    );
    expect(error.message).toContain('no branches or tags yet');
  });

  it('refuses --ref for a directory outside any repository', async () => {
    const plain = path.join(temp.path, 'plain');
    mkdirSync(plain, { recursive: true });
    const outside = makeTempDir('no-repo');
    try {
      writeFileSync(path.join(outside.path, 'a.yaml'), podYaml('a'));
      await expectError(
        createSourceReader().open({ location: outside.path, ref: 'main' }),
        'SOURCE_NOT_A_REPOSITORY',
      );
    } finally {
      outside.remove();
    }
  });

  it('skips submodules (their files are in another repository)', async () => {
    const sub = initRepo(path.join(temp.path, 'sub'));
    commitFiles(sub, { 'inner.yaml': podYaml('inner') });
    const parent = initRepo(path.join(temp.path, 'parent'));
    commitFiles(parent, { 'outer.yaml': podYaml('outer') });
    git(parent, '-c', 'protocol.file.allow=always', 'submodule', '-q', 'add', sub, 'vendored');
    git(parent, 'commit', '-q', '-m', 'add submodule');
    const snapshot = await createSourceReader().open({ location: parent, ref: 'HEAD' });
    expect(snapshot.files.map((f) => f.path)).toEqual(['outer.yaml']);
    expect(snapshot.problems).toEqual([]);
    await expectError(
      createSourceReader().open({ location: parent, ref: 'HEAD', path: 'vendored' }),
      'SOURCE_PATH_NOT_FOUND',
    );
  });
});

describe('symbolic links in a commit', () => {
  let repo: string;

  beforeAll(() => {
    repo = initRepo(path.join(temp.path, 'links'));
    commitFiles(repo, {
      'apps/web.yaml': podYaml('web'),
      'shared/db.yaml': podYaml('db'),
      'shared/cache.txt': podYaml('cache'),
      'apps/db.yaml': { symlink: '../shared/db.yaml' },
      'apps/web-again.yaml': { symlink: 'web.yaml' },
      'apps/cache.yaml': { symlink: '../shared/cache.txt' },
      'apps/shared-dir': { symlink: '../shared' },
      'apps/loop': { symlink: '..' },
      'apps/escape.yaml': { symlink: '../../outside.yaml' },
      'apps/escape-dir': { symlink: '../..' },
      'apps/absolute.yaml': { symlink: '/etc/hostname' },
      'apps/dangling.yaml': { symlink: 'nothing-here.yaml' },
      // Could be a folder of manifests: reported. A .txt file outside cannot be: ignored.
      'apps/vendor': { symlink: '../../vendor' },
      'apps/notes.txt': { symlink: '../../notes.txt' },
    });
  });

  it('follows links inside the repository, lists a target once, and refuses links outside', async () => {
    const snapshot = await createSourceReader().open({ location: repo, ref: 'HEAD', path: 'apps' });
    const dbBlob = git(repo, 'rev-parse', 'HEAD:shared/db.yaml');
    const cacheBlob = git(repo, 'rev-parse', 'HEAD:shared/cache.txt');
    expect(snapshot.files.map((f) => `${f.path} ${f.blobId}`)).toEqual([
      `apps/cache.yaml ${cacheBlob}`,
      `apps/db.yaml ${dbBlob}`,
      // shared/ through the folder link: db.yaml is already listed through apps/db.yaml.
      `apps/web.yaml ${git(repo, 'rev-parse', 'HEAD:apps/web.yaml')}`,
    ]);
    const db = snapshot.files.find((f) => f.path === 'apps/db.yaml');
    expect(Buffer.from((await db?.read()) ?? []).toString()).toBe(podYaml('db'));
    const problems = snapshot.problems
      .map((p) => `${p.code} ${p.origin.file}: ${p.message}`)
      .sort();
    expect(problems).toEqual([
      "file.symlink-outside apps/absolute.yaml: symbolic link 'apps/absolute.yaml' points to '/etc/hostname', outside the repository; it is not read",
      "file.symlink-outside apps/escape-dir: symbolic link 'apps/escape-dir' points to '../..', outside the repository; it is not read",
      "file.symlink-outside apps/escape.yaml: symbolic link 'apps/escape.yaml' points to '../../outside.yaml', outside the repository; it is not read",
      "file.symlink-outside apps/vendor: symbolic link 'apps/vendor' points to '../../vendor', outside the repository; it is not read",
      "file.unreadable apps/dangling.yaml: symbolic link 'apps/dangling.yaml' points to 'nothing-here.yaml', which does not exist at this commit",
    ]);
  });

  it('lists a file reached by a link and by its own path once, at its own path', async () => {
    const snapshot = await createSourceReader().open({ location: repo, ref: 'HEAD' });
    const paths = snapshot.files.map((f) => f.path);
    expect(paths).toContain('shared/db.yaml');
    expect(paths).not.toContain('apps/db.yaml');
    expect(paths).not.toContain('apps/web-again.yaml');
    expect(paths).not.toContain('apps/shared-dir/db.yaml');
  });

  it('expands a link to a folder outside --path under the link', async () => {
    const repo2 = initRepo(path.join(temp.path, 'dir-link'));
    commitFiles(repo2, {
      'base/pod.yaml': podYaml('base'),
      'env/prod/base': { symlink: '../../base' },
      'env/prod/own.yaml': podYaml('own'),
    });
    const snapshot = await createSourceReader().open({
      location: repo2,
      ref: 'HEAD',
      path: 'env/prod',
    });
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'env/prod/base/pod.yaml',
      'env/prod/own.yaml',
    ]);
    // --path through a link reads the target folder under the path asked for.
    const through = await createSourceReader().open({
      location: repo2,
      ref: 'HEAD',
      path: 'env/prod/base',
    });
    expect(through.files.map((f) => f.path)).toEqual(['env/prod/base/pod.yaml']);
  });
});

describe('caches of a long-lived reader', () => {
  it('re-reads only the trees a one-file commit changed, and nothing for the same commit', async () => {
    const repo = initRepo(path.join(temp.path, 'cache'));
    const files: Record<string, string> = {};
    for (let folder = 0; folder < 10; folder += 1) {
      for (let i = 0; i < 10; i += 1)
        files[`team-${folder}/app-${i}.yaml`] = podYaml(`app-${folder}-${i}`);
    }
    files['flat/one.yaml'] = podYaml('one');
    commitFiles(repo, files);
    git(repo, 'gc', '-q');
    const reader = createSourceReader();
    const first = await reader.open({ location: repo, ref: 'main' });
    expect(first.files).toHaveLength(101);
    expect(reader.stats.treesRead).toBe(12);
    expect(reader.stats.blobSizesRead).toBe(101);

    commitFiles(repo, { 'team-3/app-4.yaml': podYaml('app-3-4', 'nginx:2') });
    const second = await reader.open({ location: repo, ref: 'main' });
    // The root and team-3 changed; the other ten trees come from the cache.
    expect(reader.stats.treesRead).toBe(14);
    expect(reader.stats.blobSizesRead).toBe(102);
    expect(listing(second)).toEqual(gitListing(repo, 'main'));
    // Unchanged files are the very same objects: callers may compare by identity.
    expect(second.files.find((f) => f.path === 'team-5/app-1.yaml')).toBe(
      first.files.find((f) => f.path === 'team-5/app-1.yaml'),
    );

    await reader.open({ location: repo, ref: 'main' });
    expect(reader.stats.treesRead).toBe(14);
    expect(reader.stats.blobSizesRead).toBe(102);

    // An older commit's trees are still cached.
    const back = await reader.open({ location: repo, ref: first.commit as string });
    expect(listing(back)).toEqual(listing(first));
    expect(reader.stats.treesRead).toBe(14);
  });

  it('re-parses only the changed entries of a large flat folder and keeps the listing right', async () => {
    const repo = initRepo(path.join(temp.path, 'flat-cache'));
    const files: Record<string, string> = {};
    for (let i = 0; i < 500; i += 1)
      files[`all/app-${String(i).padStart(3, '0')}.yaml`] = podYaml(`app-${i}`);
    commitFiles(repo, files);
    const reader = createSourceReader();
    await reader.open({ location: repo, ref: 'main' });
    // Change one, add one in the middle, remove one: each open must equal git's own listing.
    commitFiles(repo, { 'all/app-250.yaml': podYaml('changed') });
    expect(listing(await reader.open({ location: repo, ref: 'main' }))).toEqual(
      gitListing(repo, 'main'),
    );
    commitFiles(repo, { 'all/app-250b.yaml': podYaml('added') });
    expect(listing(await reader.open({ location: repo, ref: 'main' }))).toEqual(
      gitListing(repo, 'main'),
    );
    rmSync(path.join(repo, 'all/app-100.yaml'));
    git(repo, 'commit', '-q', '-am', 'remove');
    expect(listing(await reader.open({ location: repo, ref: 'main' }))).toEqual(
      gitListing(repo, 'main'),
    );
  });
});
