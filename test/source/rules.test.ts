import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../operator/model/errors.js';
import { checkRefName } from '../../operator/source/git-refs.js';
import { createSourceReader } from '../../operator/source/index.js';
import { isManifestName, normalizeSubpath } from '../../operator/source/paths.js';
import {
  checkSourceUrl,
  isLoopbackHost,
  looksLikeScpAddress,
  redactUrl,
} from '../../operator/source/url.js';
import { makeTempDir } from '../helpers/git-repo.js';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return isBerthError(error) ? error.code : 'not a BerthError';
  }
}

describe('paths', () => {
  it.each([
    [undefined, ''],
    ['', ''],
    ['.', ''],
    ['./', ''],
    ['guestbook', 'guestbook'],
    ['./guestbook/', 'guestbook'],
    ['a//b/./c/', 'a/b/c'],
    ['a/../b', 'b'],
  ])('--path %j is %j', (requested, expected) => {
    expect(normalizeSubpath(requested)).toBe(expected);
  });

  it.each(['..', '../x', 'a/../../x', '/etc'])('--path %j leaves the source', (requested) => {
    expect(codeOf(() => normalizeSubpath(requested))).toBe('SOURCE_PATH_NOT_FOUND');
  });

  it('takes *.yaml, *.yml and *.json only', () => {
    expect(['a.yaml', 'a.yml', 'a.json', '.yaml'].every(isManifestName)).toBe(true);
    expect(['a.YAML', 'a.yaml.bak', 'yaml', 'a.txt'].some(isManifestName)).toBe(false);
  });
});

describe('ref names', () => {
  it.each(['main', 'feature/x', 'v1.2.3', 'HEAD', 'refs/tags/v1', 'abc1234'])(
    'accepts %s',
    (ref) => {
      expect(codeOf(() => checkRefName(ref))).toBeUndefined();
    },
  );

  it.each([
    '',
    '../config',
    'a..b',
    'main~1',
    'main^',
    'a:b',
    'a b',
    '-rf',
    'x.lock',
    'a/.b',
    'a//b',
    'x@{1}',
    'a\\b',
  ])('refuses %j', (ref) => {
    expect(codeOf(() => checkRefName(ref))).toBe('SOURCE_REF_NOT_FOUND');
  });
});

describe('URLs', () => {
  it.each(['localhost', 'api.localhost', '127.0.0.1', '127.1.2.3', '[::1]'])(
    '%s is this machine',
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    },
  );

  it.each(['example.com', '10.0.0.1', '128.0.0.1', '127.0.0.1.example.com', '[::2]'])(
    '%s is not',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );

  it('accepts https anywhere and http only to this machine', () => {
    expect(checkSourceUrl('https://example.com/r.git').href).toBe('https://example.com/r.git');
    expect(checkSourceUrl('http://127.0.0.1:8080/r.git').port).toBe('8080');
    expect(checkSourceUrl('http://[::1]/r.git').hostname).toBe('[::1]');
    expect(codeOf(() => checkSourceUrl('http://example.com/r.git'))).toBe('SOURCE_UNSUPPORTED_URL');
    expect(codeOf(() => checkSourceUrl('ssh://git@example.com/r.git'))).toBe(
      'SOURCE_UNSUPPORTED_URL',
    );
  });

  it('never shows credentials in messages', () => {
    expect(redactUrl(new URL('https://user:token@example.com/r.git'))).toBe(
      'https://example.com/r.git',
    );
    try {
      checkSourceUrl('ftp://user:secret@example.com/r.git');
    } catch (error) {
      expect(String(error)).not.toContain('secret');
    }
  });

  it('recognizes scp-like ssh addresses', () => {
    expect(looksLikeScpAddress('git@github.com:owner/repo.git')).toBe(true);
    expect(looksLikeScpAddress('host.example:repo.git')).toBe(true);
    expect(looksLikeScpAddress('./guestbook')).toBe(false);
    expect(looksLikeScpAddress('/tmp/x:y')).toBe(false);
  });
});

describe('a server that accepts and never answers', () => {
  const temp = makeTempDir('source-silent');
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    temp.remove();
  });

  it('is given up after the idle timeout, as SOURCE_UNREACHABLE', async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const reader = createSourceReader({
      fetchIdleTimeoutMs: 300,
      cacheDir: path.join(temp.path, 'cache'),
    });
    const started = Date.now();
    const error = await reader.open({ location: `http://127.0.0.1:${port}/r.git` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBerthError(error) && error.code).toBe('SOURCE_UNREACHABLE');
    expect(String((error as Error).message)).toContain('no response');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
