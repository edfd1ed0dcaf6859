import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createGitServer,
  type GitServer,
  type GitServerOptions,
  isZeroSha,
  type PushCheck,
  type PushedRef,
  readPushedFiles,
} from '../../operator/gitserver/index.js';
import {
  commitFiles,
  GIT_TEST_ENV,
  git,
  gitAsync,
  initRepo,
  makeTempDir,
} from '../helpers/git-repo.js';

const TOKEN = 'tok-3f9a1c';

interface Fixture {
  readonly git: GitServer;
  readonly origin: string;
  readonly dir: string;
  /** Push URL of `app` with `password` (the token unless told). */
  url(app: string, password?: string | null): string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: Partial<GitServerOptions> = {}): Promise<Fixture> {
  const temp = makeTempDir('gitserver');
  cleanups.push(() => temp.remove());
  const server = createGitServer({
    reposDir: path.join(temp.path, 'repos'),
    token: TOKEN,
    ...options,
  });
  const httpServer = http.createServer((req, res) => {
    if ((req.url ?? '').startsWith('/git/')) server.handle(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  );
  const { port } = httpServer.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    git: server,
    origin,
    dir: temp.path,
    url: (app, password = TOKEN) =>
      password === null
        ? `${origin}/git/${app}.git`
        : `http://someone:${password}@127.0.0.1:${port}/git/${app}.git`,
  };
}

/** A working tree with one commit; returns its folder. */
function workTree(fixture: Fixture, name: string, files: Record<string, string>): string {
  const dir = initRepo(path.join(fixture.dir, name));
  commitFiles(dir, files, 'first');
  return dir;
}

/** Runs git expecting it to fail; returns what it printed. */
async function gitFails(cwd: string, ...args: string[]): Promise<string> {
  try {
    await gitAsync(cwd, ...args);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`git ${args.join(' ')} succeeded; it should have failed`);
}

async function remoteHead(url: string, ref = 'refs/heads/main'): Promise<string | undefined> {
  const out = await gitAsync(process.cwd(), 'ls-remote', url, ref);
  return out === '' ? undefined : out.split('\t')[0];
}

describe('git server: push, clone, fetch', () => {
  it('a push to a new name makes the app; clone and fetch read it back', async () => {
    const created: string[] = [];
    const pushed: PushedRef[] = [];
    const fixture = await start({
      onAppCreated: (app) => {
        created.push(app);
      },
      onPushed: async (push) => {
        pushed.push(push);
        return [];
      },
    });
    const work = workTree(fixture, 'work', { 'app.yaml': 'kind: Pod\n' });
    const first = git(work, 'rev-parse', 'HEAD');
    await gitAsync(work, 'push', fixture.url('guestbook'), 'main');

    expect(created).toEqual(['guestbook']);
    const repo = fixture.git.repoPath('guestbook');
    expect(repo).toBe(path.join(fixture.dir, 'repos', 'guestbook.git'));
    expect(git(repo, 'rev-parse', 'refs/heads/main')).toBe(first);
    expect(git(repo, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(statSync(path.join(repo, 'hooks', 'pre-receive')).mode & 0o111).not.toBe(0);
    expect(pushed).toEqual([
      { app: 'guestbook', ref: 'refs/heads/main', oldSha: '0'.repeat(40), newSha: first },
    ]);

    // Loopback reads need no token.
    const clone = path.join(fixture.dir, 'clone');
    await gitAsync(fixture.dir, 'clone', '-q', fixture.url('guestbook', null), clone);
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(first);

    const second = commitFiles(work, { 'app.yaml': 'kind: Pod\n# two\n' }, 'second');
    await gitAsync(work, 'push', fixture.url('guestbook'), 'main');
    await gitAsync(clone, 'fetch', '-q', 'origin');
    expect(git(clone, 'rev-parse', 'origin/main')).toBe(second);
    expect(created).toEqual(['guestbook']);
    expect(pushed.map((push) => push.newSha)).toEqual([first, second]);
    expect(pushed[1]?.oldSha).toBe(first);
  });

  it('a push without the token is 401 and changes nothing; a wrong token is refused', async () => {
    const created: string[] = [];
    const fixture = await start({ onAppCreated: (app) => void created.push(app) });

    const answer = await fetch(`${fixture.origin}/git/web.git/info/refs?service=git-receive-pack`);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe('Basic realm="berth"');

    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    const anonymous = await gitFails(work, 'push', fixture.url('web', null), 'main');
    expect(anonymous).toMatch(/Authentication failed|could not read Username/);
    expect(existsSync(fixture.git.repoPath('web'))).toBe(false);
    expect(created).toEqual([]);

    const wrong = await gitFails(work, 'push', fixture.url('web', 'not-the-token'), 'main');
    expect(wrong).toMatch(/Authentication failed|401/);
    expect(existsSync(fixture.git.repoPath('web'))).toBe(false);

    // With the app in place, a wrong token still moves nothing.
    const first = git(work, 'rev-parse', 'HEAD');
    await gitAsync(work, 'push', fixture.url('web'), 'main');
    commitFiles(work, { 'a.yaml': 'b\n' }, 'second');
    await gitFails(work, 'push', fixture.url('web', 'not-the-token'), 'main');
    await gitFails(work, 'push', fixture.url('web', null), 'main');
    expect(await remoteHead(fixture.url('web', null))).toBe(first);
    expect(created).toEqual(['web']);
  });

  it('reads need the token too when loopback reads are closed', async () => {
    const fixture = await start({ openReadsOnLoopback: false });
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    await gitAsync(work, 'push', fixture.url('closed'), 'main');

    const answer = await fetch(
      `${fixture.origin}/git/closed.git/info/refs?service=git-upload-pack`,
    );
    expect(answer.status).toBe(401);
    await gitFails(fixture.dir, 'clone', '-q', fixture.url('closed', null), 'anon');
    await gitAsync(fixture.dir, 'clone', '-q', fixture.url('closed'), 'authed');
    expect(git(path.join(fixture.dir, 'authed'), 'rev-parse', 'HEAD')).toBe(
      git(work, 'rev-parse', 'HEAD'),
    );
  });

  it('answers 404 for an unknown repository and, with a reason, for a name that is no app name', async () => {
    const fixture = await start();
    const unknown = await fetch(
      `${fixture.origin}/git/nothing.git/info/refs?service=git-upload-pack`,
    );
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('no app named nothing');
    const clone = await gitFails(fixture.dir, 'clone', '-q', fixture.url('nothing', null), 'x');
    expect(clone).toMatch(/not found/);

    for (const name of ['Bad_Name', 'a'.repeat(64), '-dash']) {
      const answer = await fetch(
        `${fixture.origin}/git/${name}.git/info/refs?service=git-receive-pack`,
        { headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } },
      );
      expect(answer.status).toBe(404);
      expect(await answer.text()).toContain('is not a valid app name');
    }
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    await gitFails(work, 'push', fixture.url('Bad_Name'), 'main');
    expect(existsSync(path.join(fixture.dir, 'repos', 'Bad_Name.git'))).toBe(false);

    expect(() => fixture.git.repoPath('../etc')).toThrow(/not a valid app name/);

    const dumb = await fetch(`${fixture.origin}/git/nothing.git/objects/info/packs`);
    expect(dumb.status).toBe(404);
  });

  it('streams a push larger than git posts in one piece (chunked) and clones it back', async () => {
    const fixture = await start();
    const big = randomBytes(3 * 1024 * 1024).toString('base64');
    const work = workTree(fixture, 'work', { 'big.txt': big });
    await gitAsync(work, 'push', fixture.url('large'), 'main');
    const clone = path.join(fixture.dir, 'clone');
    await gitAsync(fixture.dir, 'clone', '-q', fixture.url('large', null), clone);
    expect(readFileSync(path.join(clone, 'big.txt'), 'utf8')).toBe(big);
  });

  it('takes a gzip request body', async () => {
    const fixture = await start();
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    const head = git(work, 'rev-parse', 'HEAD');
    await gitAsync(work, 'push', fixture.url('zipped'), 'main');

    const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;
    const body = `${pkt(`want ${head}\n`)}0000${pkt('done\n')}`;
    const answer = await fetch(`${fixture.origin}/git/zipped.git/git-upload-pack`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-git-upload-pack-request',
        'content-encoding': 'gzip',
      },
      body: gzipSync(body),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/x-git-upload-pack-result');
    const bytes = Buffer.from(await answer.arrayBuffer());
    expect(bytes.includes(Buffer.from('PACK'))).toBe(true);
  });
  it('two first pushes to one new name make one repository and one onAppCreated', async () => {
    const created: string[] = [];
    const fixture = await start({ onAppCreated: (app) => void created.push(app) });
    const one = workTree(fixture, 'one', { 'a.yaml': 'a\n' });
    const two = workTree(fixture, 'two', { 'b.yaml': 'b\n' });
    await Promise.all([
      gitAsync(one, 'push', fixture.url('race'), 'main:refs/heads/one'),
      gitAsync(two, 'push', fixture.url('race'), 'main:refs/heads/two'),
    ]);
    expect(created).toEqual(['race']);
    expect(await remoteHead(fixture.url('race', null), 'refs/heads/one')).toBe(
      git(one, 'rev-parse', 'HEAD'),
    );
    expect(await remoteHead(fixture.url('race', null), 'refs/heads/two')).toBe(
      git(two, 'rev-parse', 'HEAD'),
    );
  });
});

describe('git server: hooks', () => {
  it('puts its hooks into a repository made without them', async () => {
    const fixture = await start({
      checkPush: async () => ({ ok: false, lines: ['refused by berth'] }),
    });
    mkdirSync(path.join(fixture.dir, 'repos'), { recursive: true });
    git(path.join(fixture.dir, 'repos'), 'init', '-q', '--bare', 'old.git');
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    const output = await gitFails(work, 'push', fixture.url('old'), 'main');
    expect(output).toContain('remote: refused by berth');
    expect(await remoteHead(fixture.url('old', null))).toBeUndefined();
  });

  it('a refused push prints each line as remote: and moves no ref', async () => {
    const checks: PushCheck[] = [];
    const fixture = await start({
      checkPush: async (push) => {
        checks.push(push);
        const files = await readPushedFiles(push);
        const lines = files
          .filter((file) => file.content.toString('utf8').includes('broken'))
          .map((file) => `${file.path}:1:1: not a manifest`);
        return { ok: lines.length === 0, lines };
      },
      onPushed: async () => ['2 to create, 1 to update', 'watch: berth status checked'],
    });
    const work = workTree(fixture, 'work', { 'deploy/web.yaml': 'kind: Pod\n' });
    const good = git(work, 'rev-parse', 'HEAD');
    const accepted = await gitAsync(
      work,
      'push',
      '--porcelain',
      fixture.url('checked'),
      'main',
    ).then(() => 'ok');
    expect(accepted).toBe('ok');
    expect(await remoteHead(fixture.url('checked', null))).toBe(good);

    const bad = commitFiles(
      work,
      { 'deploy/web.yaml': 'broken\n', 'deploy/db.yaml': 'broken too\n' },
      'bad',
    );
    const refused = await gitFails(work, 'push', fixture.url('checked'), 'main');
    expect(refused).toContain('remote: deploy/db.yaml:1:1: not a manifest');
    expect(refused).toContain('remote: deploy/web.yaml:1:1: not a manifest');
    expect(refused).toMatch(/pre-receive hook declined/);
    expect(await remoteHead(fixture.url('checked', null))).toBe(good);
    const last = checks.at(-1);
    expect(last).toMatchObject({
      app: 'checked',
      ref: 'refs/heads/main',
      oldSha: good,
      newSha: bad,
      repoPath: fixture.git.repoPath('checked'),
    });
  });

  it('an accepted push moves the ref and shows onPushed lines', async () => {
    const fixture = await start({
      checkPush: async () => ({ ok: true, lines: ['manifests: 3 valid'] }),
      onPushed: async (push) => [
        `2 to create, 1 to update`,
        `watching ${push.app} at ${push.newSha.slice(0, 7)}`,
      ],
    });
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    const head = git(work, 'rev-parse', 'HEAD');
    const output = await pushOutput(work, fixture.url('shown'));
    expect(output).toContain('remote: manifests: 3 valid');
    expect(output).toContain('remote: 2 to create, 1 to update');
    expect(output).toContain(`remote: watching shown at ${head.slice(0, 7)}`);
    expect(await remoteHead(fixture.url('shown', null))).toBe(head);
  });

  it('follows a force-push and passes deletions to the check', async () => {
    const checks: PushCheck[] = [];
    const fixture = await start({
      checkPush: async (push) => {
        checks.push(push);
        return { ok: true, lines: [] };
      },
    });
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    commitFiles(work, { 'a.yaml': 'b\n' }, 'second');
    await gitAsync(work, 'push', fixture.url('forced'), 'main', 'main:refs/heads/feature');
    const before = git(work, 'rev-parse', 'HEAD');

    git(work, 'reset', '-q', '--hard', 'HEAD~1');
    const rewritten = commitFiles(work, { 'a.yaml': 'c\n' }, 'rewritten');
    await gitFails(work, 'push', fixture.url('forced'), 'main');
    await gitAsync(work, 'push', '--force', fixture.url('forced'), 'main');
    expect(await remoteHead(fixture.url('forced', null))).toBe(rewritten);
    expect(checks.at(-1)).toMatchObject({
      ref: 'refs/heads/main',
      oldSha: before,
      newSha: rewritten,
    });

    await gitAsync(work, 'push', fixture.url('forced'), ':refs/heads/feature');
    const deletion = checks.at(-1);
    expect(deletion?.ref).toBe('refs/heads/feature');
    expect(deletion?.oldSha).toBe(before);
    expect(isZeroSha(deletion?.newSha ?? '')).toBe(true);
    expect(await remoteHead(fixture.url('forced', null), 'refs/heads/feature')).toBeUndefined();
  });

  it('refuses the push when the callback cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const fixture = await start({ hookUrl: `http://127.0.0.1:${port}/git/_hooks` });
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    const output = await gitFails(work, 'push', fixture.url('unreachable'), 'main');
    expect(output).toContain('remote: berth: cannot reach the berth server to check this push');
    expect(await remoteHead(fixture.url('unreachable', null))).toBeUndefined();
  });

  it('a throwing check refuses with its message', async () => {
    const fixture = await start({
      checkPush: async () => {
        throw new Error('store is closed');
      },
    });
    const work = workTree(fixture, 'work', { 'a.yaml': 'a\n' });
    const output = await gitFails(work, 'push', fixture.url('throws'), 'main');
    expect(output).toContain('remote: berth: could not check refs/heads/main: store is closed');
    expect(await remoteHead(fixture.url('throws', null))).toBeUndefined();
  });

  it('the hook callback needs its secret', async () => {
    const fixture = await start({ checkPush: async () => ({ ok: true, lines: [] }) });
    const body = JSON.stringify({ app: 'x', updates: [], cwd: '/', env: {} });
    for (const authorization of [undefined, `Bearer ${TOKEN}`, 'Bearer guess']) {
      const answer = await fetch(`${fixture.origin}/git/_hooks/pre-receive`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization === undefined ? {} : { authorization }),
        },
        body,
      });
      expect(answer.status).toBe(401);
    }
  });
});

/** Pushes and returns git's stderr (where `remote:` lines go). */
function pushOutput(cwd: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['push', url, 'main'],
      { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_TEST_ENV } },
      (error, _stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stderr)),
    );
  });
}
