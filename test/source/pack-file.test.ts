import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDelta, PackFile, PackFormatError } from '../../operator/source/pack-file.js';
import {
  commitFiles,
  GIT_TEST_ENV,
  git,
  initRepo,
  makeTempDir,
  podYaml,
} from '../helpers/git-repo.js';

const temp = makeTempDir('source-pack');
afterAll(() => temp.remove());

/** Every object id in the repository with its type, as git reports them. */
function allObjects(repo: string): { oid: string; type: string }[] {
  return git(repo, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)')
    .split('\n')
    .map((line) => {
      const [oid, type] = line.split(' ') as [string, string];
      return { oid, type };
    });
}

function catFile(repo: string, oid: string): Buffer {
  return execFileSync('git', ['cat-file', '-p', oid], {
    cwd: repo,
    env: { ...process.env, ...GIT_TEST_ENV },
    maxBuffer: 1 << 28,
  });
}

describe('reading a git pack', () => {
  let repo: string;
  let pack: PackFile;

  beforeAll(async () => {
    repo = initRepo(path.join(temp.path, 'repo'));
    // Similar files and many small edits: git stores most of them as deltas, in long chains.
    const files: Record<string, string> = {};
    for (let i = 0; i < 80; i += 1)
      files[`team-${i % 8}/app-${i}.yaml`] = podYaml(`app-${i}`, `img:${i}`);
    files['big.json'] = JSON.stringify({
      items: Array.from({ length: 3000 }, (_, i) => ({ i, name: `n${i}` })),
    });
    commitFiles(repo, files);
    for (let round = 0; round < 15; round += 1) {
      commitFiles(repo, {
        [`team-0/app-${round}.yaml`]: podYaml(`app-${round}`, `img:v${round}`),
        'big.json': JSON.stringify({
          items: Array.from({ length: 3000 }, (_, i) => ({ i, name: `n${i + round}` })),
        }),
      });
    }
    git(repo, 'tag', '-a', 'v1', '-m', 'a tag object');
    git(repo, 'gc', '-q', '--aggressive');
    const packDir = path.join(repo, '.git', 'objects', 'pack');
    const idx = readdirSync(packDir).find((name) => name.endsWith('.idx')) as string;
    pack = (await PackFile.open(path.join(packDir, idx))) as PackFile;
    expect(pack).toBeDefined();
  });

  it('reads every object (commits, trees, blobs, tags; plain and deltified) as git does', () => {
    const objects = allObjects(repo);
    const deltas = git(
      repo,
      'verify-pack',
      '-v',
      ...readdirSync(path.join(repo, '.git', 'objects', 'pack'))
        .filter((n) => n.endsWith('.idx'))
        .map((n) => path.join(repo, '.git', 'objects', 'pack', n)),
    )
      .split('\n')
      .filter((line) => /^[0-9a-f]{40} \w+ +\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(line));
    expect(deltas.length).toBeGreaterThan(20);
    expect(new Set(objects.map((o) => o.type))).toEqual(new Set(['commit', 'tree', 'blob', 'tag']));
    for (const { oid, type } of objects) {
      const offset = pack.find(oid);
      expect(offset, oid).toBeDefined();
      const object = pack.read(oid, offset as number);
      expect(object.type).toBe(type);
      if (type === 'blob') expect(object.content.equals(catFile(repo, oid))).toBe(true);
      else expect(object.content.length).toBe(Number(git(repo, 'cat-file', '-s', oid)));
    }
  });

  it('tells type and size from entry headers alone, deltas included', () => {
    for (const { oid, type } of allObjects(repo)) {
      expect(pack.sizeAt(pack.find(oid) as number)).toEqual({
        type,
        size: Number(git(repo, 'cat-file', '-s', oid)),
      });
    }
  });

  it('does not find objects the pack does not hold', () => {
    expect(pack.find('0'.repeat(40))).toBeUndefined();
    expect(pack.find('f'.repeat(40))).toBeUndefined();
    expect(pack.find('not hex')).toBeUndefined();
  });

  it('refuses an object whose content does not hash to the id asked for', () => {
    const [first, second] = allObjects(repo);
    if (first === undefined || second === undefined) throw new Error('the repository has objects');
    expect(() => pack.read(second.oid, pack.find(first.oid) as number)).toThrow(PackFormatError);
  });
});

describe('git deltas', () => {
  const source = Buffer.from('hello, world of manifests');

  it('copies from the source and inserts new bytes', () => {
    // source size 25, result size 13; copy offset 0 size 7 ("hello, "), insert "berth!"
    const delta = Buffer.from([25, 13, 0x90, 7, 6, ...Buffer.from('berth!')]);
    expect(applyDelta(source, delta).toString()).toBe('hello, berth!');
  });

  it('refuses deltas that do not fit their buffers', () => {
    expect(() => applyDelta(source, Buffer.from([24, 1, 1, 0x41]))).toThrow(/wrong size/);
    expect(() => applyDelta(source, Buffer.from([25, 5, 0x91, 30, 5]))).toThrow(/outside/);
    expect(() => applyDelta(source, Buffer.from([25, 5, 0]))).toThrow(/reserved/);
    expect(() => applyDelta(source, Buffer.from([25, 9, 1, 0x41]))).toThrow(/wrong size/);
  });
});
