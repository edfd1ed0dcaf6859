import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime } from '../../operator/agent/docker-runtime.js';
import { tarArchive } from '../../operator/agent/images.js';
import { docker, dockerStatusCode } from '../helpers/docker.js';

/**
 * A pull that succeeds, with no outside registry: a minimal registry (distribution API v2,
 * read only, one image) on 127.0.0.1, which Docker treats as an insecure registry and reaches
 * over plain HTTP. The image holds busybox alone and prints a marker.
 */

const sha256 = (data: Buffer | string) =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Registry {
  readonly host: string;
  readonly requests: string[];
  close(): Promise<void>;
}

async function startRegistry(repository: string, tag: string): Promise<Registry> {
  const layerTar = tarArchive([
    { kind: 'directory', path: 'bin', mode: 0o755 },
    { kind: 'file', path: 'bin/busybox', mode: 0o755, content: readFileSync('/bin/busybox') },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'symlink', path: 'bin/echo', target: 'busybox' },
  ]);
  const layer = gzipSync(layerTar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/echo', 'pulled-image-runs'] },
      rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        size: config.length,
        digest: sha256(config),
      },
      layers: [
        {
          mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
          size: layer.length,
          digest: sha256(layer),
        },
      ],
    }),
  );
  const blobs = new Map([
    [sha256(config), config],
    [sha256(layer), layer],
  ]);
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = request.url ?? '';
    requests.push(`${request.method} ${url}`);
    response.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    let body: Buffer | undefined;
    if (url === '/v2/') {
      body = Buffer.from('{}');
      response.setHeader('Content-Type', 'application/json');
    } else if (
      url === `/v2/${repository}/manifests/${tag}` ||
      url === `/v2/${repository}/manifests/${sha256(manifest)}`
    ) {
      body = manifest;
      response.setHeader('Content-Type', 'application/vnd.docker.distribution.manifest.v2+json');
      response.setHeader('Docker-Content-Digest', sha256(manifest));
    } else if (url.startsWith(`/v2/${repository}/blobs/`)) {
      body = blobs.get(url.slice(`/v2/${repository}/blobs/`.length));
      response.setHeader('Content-Type', 'application/octet-stream');
    }
    if (body === undefined) {
      response.writeHead(404, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'not here' }] }));
      return;
    }
    response.setHeader('Content-Length', body.length);
    response.writeHead(200);
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    host: `127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let registry: Registry;
const pulled: string[] = [];

beforeAll(async () => {
  registry = await startRegistry('berth/pulled', '1');
});

afterAll(async () => {
  for (const image of pulled) {
    try {
      await docker().getImage(image).remove({ force: true });
    } catch (error) {
      if (dockerStatusCode(error) !== 404) throw error;
    }
  }
  await registry?.close();
});

describe('pull', () => {
  it('pulls an image to the end of its progress stream, then has it', async () => {
    const runtime = createDockerRuntime({ pullTimeoutMs: 60_000 });
    const image = `${registry.host}/berth/pulled:1`;
    pulled.push(image);
    expect(await runtime.hasImage(image)).toBe(false);
    const result = await runtime.pull(image);
    expect(result).toEqual({ ok: true });
    expect(await runtime.hasImage(image)).toBe(true);
    // Blobs may be skipped: a parallel run can have put the same layer in the engine already.
    expect(registry.requests.some((request) => request.includes('/manifests/1'))).toBe(true);
  });

  it('a tag the registry does not have is ok:false with the registry message', async () => {
    const runtime = createDockerRuntime({ pullTimeoutMs: 60_000 });
    const result = await runtime.pull(`${registry.host}/berth/pulled:missing`);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/not found|unknown|not here/i);
  });

  it('an image without a tag pulls latest only', async () => {
    const runtime = createDockerRuntime({ pullTimeoutMs: 60_000 });
    const before = registry.requests.length;
    const result = await runtime.pull(`${registry.host}/berth/pulled`);
    expect(result.ok).toBe(false);
    const asked = registry.requests.slice(before);
    expect(asked.some((request) => request.includes('/manifests/latest'))).toBe(true);
    expect(asked.some((request) => request.includes('/tags/list'))).toBe(false);
  });
});
