/**
 * `.berthignore` in every kind of source listing: a directory, a git repository at a ref
 * (working tree and bare), an https URL, and the files of a push read during pre-receive.
 * Real git is the oracle for the gitignore syntax: `git ls-files -ci --exclude-from`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createAppsController } from '../../operator/daemon/controller.js';
import { createPushDeploy } from '../../operator/daemon/push.js';
import {
  createGitServer,
  type PushCheck,
  type PushedFile,
  readPushedFiles,
} from '../../operator/gitserver/index.js';
import { loadManifests, ManifestCache } from '../../operator/manifests/load.js';
import { createSourceReader, type SourceSnapshot } from '../../operator/source/index.js';
import { isManifestName } from '../../operator/source/paths.js';
import { openStore } from '../../operator/store/index.js';
import { startGitHttpServer } from '../helpers/git-http-server.js';
import {
  commitFiles,
  git,
  gitAsync,
  initRepo,
  makeTempDir,
  podYaml,
  writeTree,
} from '../helpers/git-repo.js';

const temp = makeTempDir('source-ignore');
afterAll(() => temp.remove());

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

let folders = 0;
/** A fresh folder below the test's temp dir. */
function folder(name: string): string {
  folders += 1;
  const dir = path.join(temp.path, `${folders}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Not YAML at all: parsing it is a problem, so a listing that kept it would show. */
const NOT_A_MANIFEST = 'name: [unclosed\n  - : :\n';

/** The Guestbook's layout: the frontend's image recipe and source beside the manifests. */
const GUESTBOOK = {
  '.berthignore': "# the frontend's image recipe and source: not manifests\nfrontend/\n",
  'frontend/image.yaml': NOT_A_MANIFEST,
  'frontend/src/config.json': '{"not": "a manifest"}',
  'frontend/src/index.php': '<?php echo 1;',
  'redis-master.yaml': podYaml('redis-master'),
  'frontend.yaml': podYaml('frontend'),
} as const;

function paths(snapshot: SourceSnapshot): string[] {
  return snapshot.files.map((file) => file.path);
}

/** The tracked files real git ignores under the rules of `dir/.berthignore` (`dir` is a repository root). */
function gitIgnored(dir: string): Set<string> {
  const out = git(dir, 'ls-files', '-ci', `--exclude-from=${path.join(dir, '.berthignore')}`);
  return new Set(out.split('\n').filter((line) => line !== ''));
}

describe('.berthignore in a directory source', () => {
  it('leaves out what the rules ignore, and never reads an ignored file', async () => {
    const dir = folder('guestbook');
    writeTree(dir, GUESTBOOK);
    const reader = createSourceReader();
    const snapshot = await reader.open({ location: dir });
    expect(paths(snapshot)).toEqual(['frontend.yaml', 'redis-master.yaml']);
    expect(snapshot.problems).toEqual([]);
    // Only the two listed files were hashed: the ignored folder was not entered.
    expect(reader.stats.filesHashed).toBe(2);
    const set = await loadManifests(snapshot.files);
    expect(set.problems).toEqual([]);
    expect(set.objects.map((object) => object.object.metadata?.name)).toEqual([
      'frontend',
      'redis-master',
    ]);
  });

  it('takes the rules at the root of the folder read: --path, relative to it', async () => {
    const root = folder('repo');
    writeTree(root, {
      '.berthignore': 'guestbook/frontend.yaml\n',
      'top.yaml': podYaml('top'),
      ...Object.fromEntries(
        Object.entries(GUESTBOOK).map(([file, text]) => [`guestbook/${file}`, text]),
      ),
    });
    const reader = createSourceReader();
    // The root's rules: paths relative to the root; guestbook/.berthignore is not the root's.
    expect(paths(await reader.open({ location: root }))).toEqual([
      'guestbook/frontend/image.yaml',
      'guestbook/frontend/src/config.json',
      'guestbook/redis-master.yaml',
      'top.yaml',
    ]);
    // --path guestbook: guestbook/.berthignore, relative to guestbook; the root's do not apply.
    expect(paths(await reader.open({ location: root, path: 'guestbook' }))).toEqual([
      'guestbook/frontend.yaml',
      'guestbook/redis-master.yaml',
    ]);
    // The same folder named directly.
    expect(paths(await reader.open({ location: path.join(root, 'guestbook') }))).toEqual([
      'frontend.yaml',
      'redis-master.yaml',
    ]);
  });

  it('does not follow an ignored link; a link into an ignored folder lists nothing', async () => {
    const outside = folder('outside');
    writeFileSync(path.join(outside, 'far.yaml'), podYaml('far'));
    const dir = folder('links');
    writeTree(dir, {
      '.berthignore': 'vendor\nhidden/\n',
      'app.yaml': podYaml('app'),
      'hidden/secret.yaml': podYaml('secret'),
      vendor: { symlink: outside },
      'into-hidden': { symlink: 'hidden' },
      'secret-link.yaml': { symlink: 'hidden/secret.yaml' },
    });
    const snapshot = await createSourceReader().open({ location: dir });
    expect(paths(snapshot)).toEqual(['app.yaml']);
    // The ignored link to a folder outside the source is not even reported.
    expect(snapshot.problems).toEqual([]);
  });

  it('lists anew after .berthignore is edited, with the same reader', async () => {
    const dir = folder('edited');
    writeTree(dir, GUESTBOOK);
    const reader = createSourceReader();
    expect(paths(await reader.open({ location: dir }))).toEqual([
      'frontend.yaml',
      'redis-master.yaml',
    ]);
    writeFileSync(path.join(dir, '.berthignore'), 'frontend/src/\nredis-*.yaml\n');
    expect(paths(await reader.open({ location: dir }))).toEqual([
      'frontend.yaml',
      'frontend/image.yaml',
    ]);
    rmSync(path.join(dir, '.berthignore'));
    expect(paths(await reader.open({ location: dir }))).toEqual([
      'frontend.yaml',
      'frontend/image.yaml',
      'frontend/src/config.json',
      'redis-master.yaml',
    ]);
  });

  it('a .berthignore of comments and blank lines ignores nothing', async () => {
    const dir = folder('comments');
    writeTree(dir, { '.berthignore': '# nothing yet\n\n   \n', 'a.yaml': podYaml('a') });
    expect(paths(await createSourceReader().open({ location: dir }))).toEqual(['a.yaml']);
  });
});

describe('.berthignore in a git source', () => {
  it('at a ref, takes the committed rules; a commit that only edits them changes the listing', async () => {
    const repo = initRepo(folder('work'));
    const prefixed = Object.fromEntries(
      Object.entries(GUESTBOOK).map(([file, text]) => [`guestbook/${file}`, text]),
    );
    const first = commitFiles(repo, prefixed);
    // An uncommitted edit of the rules does not count at a ref.
    writeFileSync(path.join(repo, 'guestbook', '.berthignore'), '');
    const reader = createSourceReader();
    const cache = new ManifestCache();
    const at = async (ref: string) => {
      const snapshot = await reader.open({ location: repo, ref, path: 'guestbook' });
      return { snapshot, set: await loadManifests(snapshot.files, { cache }) };
    };
    const one = await at(first);
    expect(paths(one.snapshot)).toEqual(['guestbook/frontend.yaml', 'guestbook/redis-master.yaml']);
    expect(one.set.problems).toEqual([]);

    // Only .berthignore changes: the recipe is listed and read (its problem shows) ...
    const second = commitFiles(repo, { 'guestbook/.berthignore': 'frontend/src/\n' }, 'rules');
    const two = await at(second);
    expect(paths(two.snapshot)).toEqual([
      'guestbook/frontend.yaml',
      'guestbook/frontend/image.yaml',
      'guestbook/redis-master.yaml',
    ]);
    expect(two.set.problems.map((problem) => problem.origin.file)).toContain(
      'guestbook/frontend/image.yaml',
    );
    // ... and the files whose bytes did not change came from the per-blob cache.
    expect(two.set.parsedCount).toBe(1);

    // Back to the first rules: the same commit's listing, the ignored file gone again.
    const third = commitFiles(repo, { 'guestbook/.berthignore': GUESTBOOK['.berthignore'] });
    const three = await at(third);
    expect(paths(three.snapshot)).toEqual(paths(one.snapshot));
    expect(three.set.problems).toEqual([]);
    expect(three.set.parsedCount).toBe(0);
    // The first commit, asked again, is what it was.
    expect(paths((await at(first)).snapshot)).toEqual(paths(one.snapshot));
  });

  it('reads a bare repository and a folder of a working tree at a ref the same way', async () => {
    const repo = initRepo(folder('bare-src'));
    commitFiles(repo, {
      ...Object.fromEntries(Object.entries(GUESTBOOK).map(([f, t]) => [`guestbook/${f}`, t])),
      '.berthignore': 'guestbook/\n',
      'top.yaml': podYaml('top'),
    });
    const bare = path.join(folder('bare'), 'app.git');
    git(repo, 'clone', '-q', '--bare', repo, bare);
    const reader = createSourceReader();
    expect(paths(await reader.open({ location: bare }))).toEqual(['top.yaml']);
    expect(paths(await reader.open({ location: bare, path: 'guestbook' }))).toEqual([
      'guestbook/frontend.yaml',
      'guestbook/redis-master.yaml',
    ]);
    // A folder inside the working tree read at a ref: that folder's rules.
    expect(
      paths(await reader.open({ location: path.join(repo, 'guestbook'), ref: 'main' })),
    ).toEqual(['guestbook/frontend.yaml', 'guestbook/redis-master.yaml']);
  });

  it('follows a committed link to .berthignore inside the repository, as a checkout would', async () => {
    const repo = initRepo(folder('linked-rules'));
    commitFiles(repo, {
      'shared/ignore-rules': 'frontend/\n',
      'app/.berthignore': { symlink: '../shared/ignore-rules' },
      'app/frontend/image.yaml': NOT_A_MANIFEST,
      'app/pod.yaml': podYaml('pod'),
    });
    const reader = createSourceReader();
    expect(paths(await reader.open({ location: repo, ref: 'HEAD', path: 'app' }))).toEqual([
      'app/pod.yaml',
    ]);
    // On disk, reading the link reads its target too.
    expect(paths(await reader.open({ location: path.join(repo, 'app') }))).toEqual(['pod.yaml']);
  });

  it('does not follow an ignored link; a link into an ignored folder lists nothing', async () => {
    const repo = initRepo(folder('git-links'));
    commitFiles(repo, {
      'app/.berthignore': 'escape\nhidden/\n',
      'app/app.yaml': podYaml('app'),
      'app/hidden/secret.yaml': podYaml('secret'),
      'app/escape': { symlink: '../../outside' },
      'app/into-hidden': { symlink: 'hidden' },
      'app/secret-link.yaml': { symlink: 'hidden/secret.yaml' },
    });
    const snapshot = await createSourceReader().open({ location: repo, ref: 'HEAD', path: 'app' });
    expect(paths(snapshot)).toEqual(['app/app.yaml']);
    expect(snapshot.problems).toEqual([]);
  });

  it('an https source takes the rules of the folder read', async () => {
    const served = folder('served');
    const work = initRepo(folder('url-work'));
    commitFiles(
      work,
      Object.fromEntries(Object.entries(GUESTBOOK).map(([f, t]) => [`gb/${f}`, t])),
    );
    git(served, 'init', '-q', '--bare', 'app.git');
    const server = await startGitHttpServer(served);
    cleanups.push(() => server.close());
    await gitAsync(work, 'push', '-q', server.url('app.git'), 'main');
    git(path.join(served, 'app.git'), 'symbolic-ref', 'HEAD', 'refs/heads/main');
    const snapshot = await createSourceReader().open({
      location: server.url('app.git'),
      path: 'gb',
      cacheDir: folder('url-cache'),
    });
    expect(snapshot.kind).toBe('url');
    expect(paths(snapshot)).toEqual(['gb/frontend.yaml', 'gb/redis-master.yaml']);
  });
});

describe('.berthignore as real git reads it', () => {
  const FOLDERS = ['a', 'b', 'fe', 'deep'] as const;
  const FILES = ['p.yaml', 'q.yml', 'r.json', 'image.yaml', 'notes.txt'] as const;
  const PATTERNS = [
    'a/',
    '/a/',
    'fe/',
    'fe',
    '*.json',
    '!r.json',
    '!/b/r.json',
    'b/*.yaml',
    '**/deep/',
    'deep/**',
    '/p.yaml',
    'p.yaml',
    '!p.yaml',
    'a/**/q.yml',
    '# a comment',
    '',
    '*',
    '!*.yml',
    '!*/',
    'image.*',
    '[pq].y*ml',
    '?.yml',
    'a/b/',
    '!a/',
    '!fe/image.yaml',
    '**/b',
  ] as const;
  const treeArbitrary = fc.uniqueArray(
    fc
      .tuple(fc.array(fc.constantFrom(...FOLDERS), { maxLength: 2 }), fc.constantFrom(...FILES))
      .map(([parts, file]) => [...parts, file].join('/')),
    { minLength: 1, maxLength: 14 },
  );
  const rulesArbitrary = fc.array(fc.constantFrom(...PATTERNS), { maxLength: 6 });

  it('lists, from disk and at a commit, exactly the manifest files git does not ignore', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(treeArbitrary, rulesArbitrary, async (files, rules) => {
        run += 1;
        const repo = initRepo(folder(`oracle-${run}`));
        const ignoreText = `${rules.join('\n')}\n`;
        writeTree(repo, {
          ...Object.fromEntries(files.map((file) => [file, podYaml('p')])),
          '.berthignore': ignoreText,
        });
        git(repo, 'add', '-A');
        git(repo, 'commit', '-q', '-m', 'tree');
        const ignored = gitIgnored(repo);
        const expected = files.filter((file) => isManifestName(file) && !ignored.has(file)).sort();
        const reader = createSourceReader();
        const why = `rules ${JSON.stringify(rules)}, files ${JSON.stringify(files)}`;
        expect(paths(await reader.open({ location: repo })), why).toEqual(expected);
        expect(paths(await reader.open({ location: repo, ref: 'HEAD' })), why).toEqual(expected);
        rmSync(repo, { recursive: true, force: true });
      }),
      { numRuns: 40 },
    );
  });
});

describe('.berthignore in the files of a push', () => {
  /** A git server whose pre-receive check is `check`; returns the push URL of `app`. */
  async function gitServer(check: (push: PushCheck) => Promise<{ ok: boolean; lines: string[] }>) {
    const dir = folder('gitserver');
    const server = createGitServer({
      reposDir: path.join(dir, 'repos'),
      token: 'tok',
      checkPush: check,
    });
    const httpServer = http.createServer((req, res) => server.handle(req, res));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          httpServer.closeAllConnections();
          httpServer.close(() => resolve());
        }),
    );
    const { port } = httpServer.address() as AddressInfo;
    return (app: string) => `http://someone:tok@127.0.0.1:${port}/git/${app}.git`;
  }

  it('pre-receive reads the pushed files less those ignored, at the root or below a path', async () => {
    const read: { whole: PushedFile[]; below: PushedFile[]; manifests: PushedFile[] }[] = [];
    const url = await gitServer(async (push) => {
      read.push({
        whole: await readPushedFiles(push),
        below: await readPushedFiles(push, 'guestbook'),
        manifests: await readPushedFiles(push, 'guestbook/', { only: isManifestName }),
      });
      return { ok: true, lines: [] };
    });
    const work = initRepo(folder('push-work'));
    commitFiles(work, {
      '.berthignore': 'guestbook/redis-master.yaml\n',
      ...Object.fromEntries(Object.entries(GUESTBOOK).map(([f, t]) => [`guestbook/${f}`, t])),
    });
    await gitAsync(work, 'push', '-q', url('app'), 'main');
    const [first] = read;
    expect(first?.whole.map((file) => file.path)).toEqual([
      '.berthignore',
      'guestbook/.berthignore',
      'guestbook/frontend.yaml',
      'guestbook/frontend/image.yaml',
      'guestbook/frontend/src/config.json',
      'guestbook/frontend/src/index.php',
    ]);
    expect(first?.below.map((file) => file.path)).toEqual([
      'guestbook/.berthignore',
      'guestbook/frontend.yaml',
      'guestbook/redis-master.yaml',
    ]);
    expect(first?.manifests.map((file) => file.path)).toEqual([
      'guestbook/frontend.yaml',
      'guestbook/redis-master.yaml',
    ]);
    expect(first?.manifests[0]?.content.toString('utf8')).toBe(podYaml('frontend'));
  });

  it("berth's push check accepts what the rules ignore, and refuses it once they no longer do", async () => {
    const dataDir = folder('push-store');
    const store = openStore(dataDir);
    cleanups.push(() => store.close());
    const controller = createAppsController({
      store,
      sources: createSourceReader(),
      watchLocal: false,
      sync: () => {
        throw new Error('no sync in this test');
      },
    });
    cleanups.push(() => controller.stop());
    const pushes = createPushDeploy({
      controller,
      store,
      sources: createSourceReader(),
      reposDir: path.join(dataDir, 'git'),
    });
    const url = await gitServer((push) =>
      pushes.checkPush(push).then((v) => ({ ...v, lines: [...v.lines] })),
    );
    const work = initRepo(folder('check-work'));
    commitFiles(work, GUESTBOOK);
    await gitAsync(work, 'push', '-q', url('guestbook'), 'main');

    commitFiles(work, { '.berthignore': '# nothing ignored\n' }, 'no rules');
    const refused = await gitAsync(work, 'push', url('guestbook'), 'main').then(
      () => 'accepted',
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/remote: frontend\/image\.yaml:\d+:\d+: /);
    expect(refused).toMatch(/remote: frontend\/src\/config\.json:\d+:\d+: /);
    expect(refused).toMatch(/pre-receive hook declined/);
  });
});
