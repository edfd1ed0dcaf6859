import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TAR_FIXED_MTIME_SECONDS, type TarEntry, tarArchive } from './docker-tar.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// 1300 bytes: not a multiple of 512, so padding is exercised.
const payload = Buffer.from('0123456789abcdefghij'.repeat(65));
const entries: TarEntry[] = [
  { kind: 'directory', path: 'bin', mode: 0o755 },
  { kind: 'directory', path: 'tmp', mode: 0o1777 },
  { kind: 'file', path: 'bin/tool', mode: 0o755, content: payload },
  { kind: 'file', path: 'empty', mode: 0o600, content: new Uint8Array() },
  { kind: 'symlink', path: 'bin/alias', target: '/bin/tool' },
];

/** Writes the archive and lets GNU tar read it: the real consumer format check. */
function extractWithGnuTar(archive: Buffer): string {
  const dir = tempDir();
  const file = join(dir, 'image.tar');
  writeFileSync(file, archive);
  const root = join(dir, 'root');
  execFileSync('mkdir', [root]);
  execFileSync('tar', ['-xpf', file, '-C', root]);
  return root;
}

describe('tarArchive', () => {
  it('is a valid ustar archive that GNU tar lists with types, modes, owners and mtime', () => {
    const dir = tempDir();
    const file = join(dir, 'image.tar');
    writeFileSync(file, tarArchive(entries));
    const listing = execFileSync('tar', ['--utc', '--full-time', '-tvf', file], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(listing).toHaveLength(5);
    expect(listing[0]).toMatch(/^drwxr-xr-x root\/root\s+0 2024-01-01 00:00:00 bin\/$/);
    expect(listing[1]).toMatch(/^drwxrwxrwt root\/root\s+0 .* tmp\/$/);
    expect(listing[2]).toMatch(/^-rwxr-xr-x root\/root\s+1300 .* bin\/tool$/);
    expect(listing[3]).toMatch(/^-rw------- root\/root\s+0 .* empty$/);
    expect(listing[4]).toMatch(/^lrwxrwxrwx root\/root\s+0 .* bin\/alias -> \/bin\/tool$/);
  });

  it('round-trips file contents and symlink targets through extraction', () => {
    const root = extractWithGnuTar(tarArchive(entries));
    expect(readFileSync(join(root, 'bin/tool')).equals(payload)).toBe(true);
    expect(readFileSync(join(root, 'empty')).length).toBe(0);
    expect(readlinkSync(join(root, 'bin/alias'))).toBe('/bin/tool');
    expect(lstatSync(join(root, 'bin/tool')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(root, 'bin/tool')).mtimeMs).toBe(TAR_FIXED_MTIME_SECONDS * 1000);
  });

  it('pads every entry to 512-byte blocks and ends with two zero blocks', () => {
    const archive = tarArchive(entries);
    // 5 headers + 3 data blocks for 1300 bytes + 2 end blocks.
    expect(archive.length).toBe((5 + 3 + 2) * 512);
    expect(archive.subarray(archive.length - 1024).every((byte) => byte === 0)).toBe(true);
  });

  it('is deterministic: the same entries give the same bytes', () => {
    expect(tarArchive(entries).equals(tarArchive(entries.map((entry) => ({ ...entry }))))).toBe(
      true,
    );
  });

  it('strips leading slashes so entries stay inside the image root', () => {
    const root = extractWithGnuTar(
      tarArchive([{ kind: 'file', path: '/etc/motd', mode: 0o644, content: Buffer.from('hi') }]),
    );
    expect(readFileSync(join(root, 'etc/motd'), 'utf8')).toBe('hi');
  });

  it('refuses paths that do not fit the ustar name field', () => {
    const longPath = `${'d/'.repeat(50)}file`;
    expect(() =>
      tarArchive([{ kind: 'file', path: longPath, mode: 0o644, content: new Uint8Array() }]),
    ).toThrow(RangeError);
    expect(() => tarArchive([{ kind: 'directory', path: '/', mode: 0o755 }])).toThrow(RangeError);
  });
});
