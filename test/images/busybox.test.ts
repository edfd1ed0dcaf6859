import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BUSYBOX_PATH,
  BusyboxUnavailableError,
  busyboxRecipe,
  isDynamicallyLinked,
} from './busybox.js';

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('isDynamicallyLinked', () => {
  it('says Debian busybox-static is static and node (which needs ld.so) is not', () => {
    expect(isDynamicallyLinked(readFileSync(BUSYBOX_PATH))).toBe(false);
    expect(isDynamicallyLinked(readFileSync(process.execPath))).toBe(true);
  });

  it('treats a file that is not ELF as unusable', () => {
    expect(isDynamicallyLinked(Buffer.from('#!/bin/sh\necho hi\n'))).toBe(true);
  });
});

describe('busyboxRecipe', () => {
  it('links the applets tests rely on to /bin/busybox at their usual paths', () => {
    const recipe = busyboxRecipe();
    const links = new Map(
      recipe.entries.flatMap((entry) =>
        entry.kind === 'symlink' ? [[entry.path, entry.target] as const] : [],
      ),
    );
    for (const applet of [
      'bin/sh',
      'bin/sleep',
      'bin/echo',
      'bin/cat',
      'usr/bin/wget',
      'usr/bin/nc',
      'usr/sbin/httpd',
    ]) {
      expect(links.get(applet), applet).toBe('/bin/busybox');
    }
    expect(links.has('bin/busybox')).toBe(false);
    expect(recipe.changes).toContain('CMD ["/bin/sh"]');
  });

  it('puts every directory before the entries inside it', () => {
    const seen = new Set<string>();
    for (const entry of busyboxRecipe().entries) {
      const parent = entry.path.includes('/')
        ? entry.path.slice(0, entry.path.lastIndexOf('/'))
        : '';
      if (parent !== '') expect(seen.has(parent), entry.path).toBe(true);
      if (entry.kind === 'directory') seen.add(entry.path);
    }
  });

  it('fails with a typed error naming the package when busybox is dynamically linked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-busybox-'));
    tempDirs.push(dir);
    const fake = join(dir, 'busybox');
    writeFileSync(fake, readFileSync(process.execPath).subarray(0, 4096));
    expect(() => busyboxRecipe(fake)).toThrow(
      expect.objectContaining({
        code: 'BUSYBOX_NOT_STATIC',
        message: expect.stringContaining('busybox-static'),
      }),
    );
    expect(() => busyboxRecipe(join(dir, 'absent'))).toThrow(BusyboxUnavailableError);
  });
});
