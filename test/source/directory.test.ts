import { execFileSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../operator/model/errors.js';
import { createSourceReader } from '../../operator/source/index.js';
import {
  commitFiles,
  git,
  initRepo,
  makeTempDir,
  podYaml,
  writeTree,
} from '../helpers/git-repo.js';

const temp = makeTempDir('source-dir');
afterAll(() => temp.remove());

async function expectError(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBerthError(error), `expected a BerthError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error;
}

/** Sets a file's times well in the past, so its stat can be trusted (not "racy"). */
function age(file: string): void {
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
}

describe('a directory read from disk', () => {
  let root: string;

  beforeAll(() => {
    root = initRepo(path.join(temp.path, 'work'));
    commitFiles(root, { 'guestbook/frontend.yaml': podYaml('frontend') });
    writeTree(root, {
      'guestbook/frontend.yaml': podYaml('frontend', 'edited:1'),
      'guestbook/new.yml': podYaml('new'),
      'guestbook/list.json': '{"apiVersion":"v1","kind":"List","items":[]}',
      'guestbook/README.md': '# not a manifest',
      'guestbook/.hidden/extra.yaml': podYaml('hidden'),
      'node_modules/pkg/pod.yaml': podYaml('skipped'),
      'top.yaml': podYaml('top'),
    });
  });

  it('lists files as they are on disk, uncommitted ones included, skipping .git and node_modules', async () => {
    const snapshot = await createSourceReader().open({ location: root });
    expect(snapshot.kind).toBe('directory');
    expect(snapshot.commit).toBeUndefined();
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'guestbook/.hidden/extra.yaml',
      'guestbook/frontend.yaml',
      'guestbook/list.json',
      'guestbook/new.yml',
      'top.yaml',
    ]);
    expect(snapshot.problems).toEqual([]);
  });

  it('computes blob ids exactly as git hash-object does, and reads the bytes', async () => {
    const snapshot = await createSourceReader().open({ location: root });
    for (const file of snapshot.files) {
      const absolute = path.join(root, file.path);
      expect(file.blobId).toBe(git(root, 'hash-object', '--no-filters', absolute));
      const bytes = await file.read();
      expect(file.size).toBe(bytes.length);
      expect(Buffer.from(bytes).equals(execFileSync('cat', [absolute]))).toBe(true);
    }
  });

  it('shows paths in messages as the user typed the directory', async () => {
    const typed = path.relative(process.cwd(), path.join(root, 'guestbook'));
    const snapshot = await createSourceReader().open({ location: typed });
    const frontend = snapshot.files.find((f) => f.path === 'frontend.yaml');
    expect(frontend?.display).toBe(path.join(typed, 'frontend.yaml'));
    const dotted = await createSourceReader().open({ location: `${typed}/` });
    expect(dotted.files.map((f) => f.display)).toContain(path.join(typed, 'new.yml'));
  });

  it('reads only below --path, with paths still relative to the directory', async () => {
    const snapshot = await createSourceReader().open({ location: root, path: 'guestbook/.hidden' });
    expect(snapshot.files.map((f) => `${f.path} ${f.display}`)).toEqual([
      `guestbook/.hidden/extra.yaml ${path.join(root, 'guestbook/.hidden/extra.yaml')}`,
    ]);
  });

  it('reads one file when the location is a file', async () => {
    const file = path.join(root, 'top.yaml');
    const snapshot = await createSourceReader().open({ location: file });
    expect(snapshot.files.map((f) => `${f.path} ${f.display}`)).toEqual([`top.yaml ${file}`]);
  });

  it('reports a missing location, a missing --path and --path leaving the directory', async () => {
    const missing = await expectError(
      createSourceReader().open({ location: path.join(root, 'nowhere') }),
      'SOURCE_NOT_FOUND',
    );
    expect(missing.message).toContain('nowhere does not exist');
    await expectError(
      createSourceReader().open({ location: root, path: 'nowhere' }),
      'SOURCE_PATH_NOT_FOUND',
    );
    await expectError(
      createSourceReader().open({ location: root, path: '../..' }),
      'SOURCE_PATH_NOT_FOUND',
    );
  });

  it('does not hash an unchanged file twice, and re-hashes one that changed', async () => {
    const dir = path.join(temp.path, 'hashing');
    writeTree(dir, { 'a.yaml': podYaml('a'), 'b.yaml': podYaml('b') });
    age(path.join(dir, 'a.yaml'));
    age(path.join(dir, 'b.yaml'));
    const reader = createSourceReader();
    await reader.open({ location: dir });
    expect(reader.stats.filesHashed).toBe(2);
    await reader.open({ location: dir });
    expect(reader.stats.filesHashed).toBe(2);

    writeFileSync(path.join(dir, 'b.yaml'), podYaml('b', 'changed:2'));
    const after = await reader.open({ location: dir });
    expect(reader.stats.filesHashed).toBe(3);
    expect(after.files.find((f) => f.path === 'b.yaml')?.blobId).toBe(
      git(temp.path, 'hash-object', '--no-filters', path.join(dir, 'b.yaml')),
    );
    // Just written: not trusted from stat yet, so hashed again (git's "racy" rule).
    await reader.open({ location: dir });
    expect(reader.stats.filesHashed).toBe(4);
  });

  it('refuses to hand out bytes that no longer match the blob id', async () => {
    const dir = path.join(temp.path, 'changing');
    writeTree(dir, { 'a.yaml': podYaml('a') });
    const snapshot = await createSourceReader().open({ location: dir });
    writeFileSync(path.join(dir, 'a.yaml'), podYaml('a', 'other:1'));
    const error = await expectError(
      (snapshot.files[0] as { read(): Promise<Uint8Array> }).read(),
      'SOURCE_CHANGED',
    );
    expect((error as unknown as { retry: boolean }).retry).toBe(true);
  });

  it('refuses an ssh-style address that is not a path', async () => {
    await expectError(
      createSourceReader().open({ location: 'git@github.com:owner/repo.git' }),
      'SOURCE_UNSUPPORTED_URL',
    );
  });
});

describe('symbolic links in a directory', () => {
  let root: string;
  let outside: string;

  beforeAll(() => {
    outside = path.join(temp.path, 'outside');
    writeTree(outside, {
      'secret.yaml': podYaml('secret'),
      'folder/x.yaml': podYaml('x'),
      'notes.txt': 'x',
    });
    root = path.join(temp.path, 'linked');
    writeTree(root, {
      'apps/web.yaml': podYaml('web'),
      'shared/db.yaml': podYaml('db'),
      'shared/cache.txt': podYaml('cache'),
      'apps/db.yaml': { symlink: '../shared/db.yaml' },
      'apps/again.yaml': { symlink: 'web.yaml' },
      'apps/cache.yaml': { symlink: '../shared/cache.txt' },
      'apps/shared': { symlink: '../shared' },
      'apps/loop': { symlink: '..' },
      'apps/secret.yaml': { symlink: path.join(outside, 'secret.yaml') },
      'apps/folder': { symlink: path.join(outside, 'folder') },
      'apps/notes.txt': { symlink: path.join(outside, 'notes.txt') },
      'apps/dangling.yaml': { symlink: 'missing.yaml' },
    });
  });

  it('follows links inside the source, lists each target once, and refuses links outside', async () => {
    const snapshot = await createSourceReader().open({ location: root, path: 'apps' });
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'apps/cache.yaml',
      'apps/db.yaml',
      'apps/web.yaml',
    ]);
    const db = snapshot.files.find((f) => f.path === 'apps/db.yaml');
    expect(Buffer.from((await db?.read()) ?? []).toString()).toBe(podYaml('db'));
    const problems = snapshot.problems.map((p) => `${p.code} ${p.origin.file}`).sort();
    expect(problems).toEqual([
      `file.symlink-outside ${path.join(root, 'apps/folder')}`,
      `file.symlink-outside ${path.join(root, 'apps/secret.yaml')}`,
      `file.unreadable ${path.join(root, 'apps/dangling.yaml')}`,
    ]);
    const secret = snapshot.problems.find((p) => p.origin.file.endsWith('secret.yaml'));
    expect(secret?.message).toContain(path.join(outside, 'secret.yaml'));
    expect(secret?.message).toContain('apps/secret.yaml');
  });

  it('lists a linked file at its own path when the whole directory is read', async () => {
    const snapshot = await createSourceReader().open({ location: root });
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'apps/cache.yaml',
      'apps/web.yaml',
      'shared/db.yaml',
    ]);
  });

  it('expands a linked folder outside --path under the link', async () => {
    const dir = path.join(temp.path, 'dir-link');
    writeTree(dir, {
      'base/pod.yaml': podYaml('base'),
      'env/prod/own.yaml': podYaml('own'),
      'env/prod/base': { symlink: '../../base' },
    });
    mkdirSync(path.join(dir, 'env', 'empty'), { recursive: true });
    const snapshot = await createSourceReader().open({ location: dir, path: 'env' });
    expect(snapshot.files.map((f) => f.path)).toEqual([
      'env/prod/base/pod.yaml',
      'env/prod/own.yaml',
    ]);
    expect(snapshot.problems).toEqual([]);
  });
});
