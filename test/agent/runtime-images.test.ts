import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ensureHelperImage,
  type HelperImage,
  type ImageImporter,
  PAUSE_COMMAND,
  pauseImage,
  tarArchive,
} from '../../operator/agent/images.js';
import { BerthError } from '../../operator/model/errors.js';
import { makeTempDir } from '../helpers/git-repo.js';

/** The helper image's archive as the real `tar` reads it, and when it is (not) imported. */

describe('tarArchive', () => {
  it('writes an archive the system tar lists and extracts', () => {
    const archive = tarArchive([
      { kind: 'directory', path: 'bin', mode: 0o755 },
      { kind: 'file', path: 'bin/tool', mode: 0o750, content: Buffer.from('x'.repeat(700)) },
      { kind: 'symlink', path: 'bin/alias', target: 'tool' },
    ]);
    expect(archive.length % 512).toBe(0);
    const dir = makeTempDir('tar');
    try {
      const file = join(dir.path, 'a.tar');
      writeFileSync(file, archive);
      const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
      expect(listing).toMatch(/^drwxr-xr-x .* bin\/$/m);
      expect(listing).toMatch(/^-rwxr-x--- .* 700 .* bin\/tool$/m);
      expect(listing).toMatch(/^lrwxrwxrwx .* bin\/alias -> tool$/m);
      execFileSync('tar', ['-xf', file, '-C', dir.path]);
      expect(execFileSync('cat', [join(dir.path, 'bin/alias')], { encoding: 'utf8' })).toBe(
        'x'.repeat(700),
      );
    } finally {
      dir.remove();
    }
  });

  it('is the same bytes every time (the digest in the image comment depends on it)', async () => {
    const first = await pauseImage();
    const second = await pauseImage();
    expect(first.comment).toBe(second.comment);
    expect(first.archive.equals(second.archive)).toBe(true);
    expect(first.changes).toContain(`CMD ${JSON.stringify(PAUSE_COMMAND)}`);
  });

  it('refuses a missing busybox with a typed error and a hint', async () => {
    const failure = await pauseImage('/nonexistent/busybox').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(BerthError);
    expect((failure as BerthError).code).toBe('RUNTIME_HELPER_IMAGE_FAILED');
    expect((failure as BerthError).hint).toMatch(/busybox-static/);
  });
});

describe('ensureHelperImage', () => {
  const image: HelperImage = { archive: Buffer.from('a'), changes: [], comment: 'content-1' };

  function fakeEngine(initial: string | undefined, afterImport: string | undefined) {
    let comment = initial;
    const imports: string[] = [];
    const engine: ImageImporter = {
      imageComment: async () => comment,
      importImage: async (name) => {
        imports.push(name);
        comment = afterImport;
      },
    };
    return { engine, imports };
  }

  it('does nothing when the image already holds the content', async () => {
    const { engine, imports } = fakeEngine('content-1', 'content-1');
    await ensureHelperImage(engine, 'berth/pause:1', image);
    expect(imports).toEqual([]);
  });

  it('imports when missing or made from other content', async () => {
    for (const initial of [undefined, 'content-0']) {
      const { engine, imports } = fakeEngine(initial, 'content-1');
      await ensureHelperImage(engine, 'berth/pause:1', image);
      expect(imports).toEqual(['berth/pause:1']);
    }
  });

  it('fails when the tag does not hold the content after the import', async () => {
    const { engine } = fakeEngine(undefined, 'someone-else');
    await expect(ensureHelperImage(engine, 'berth/pause:1', image)).rejects.toMatchObject({
      code: 'RUNTIME_HELPER_IMAGE_FAILED',
    });
  });
});
