/**
 * Helper images the agent makes on its own machine, never pulled (no registry need be
 * reachable). Today one: `berth/pause:1`, the pod sandbox that holds the pod's network
 * namespace, hostname and IP while its containers come and go (Kubernetes' pause container).
 *
 * How it is made: the root filesystem is a tar written here in memory holding Debian's
 * static busybox (`/bin/busybox`, package busybox-static) with `sh` and `sleep` linked to it,
 * handed to Docker's image import (`docker import`), with the command set by the import's
 * `changes`. The image Comment records a digest of the archive, so an image under the tag
 * that came from other content is replaced. Two agents importing at once both succeed (the
 * later tag wins and the earlier image is left untagged; nothing depends on the ID).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BerthError } from '../model/errors.js';

export const PAUSE_IMAGE = 'berth/pause:1';

export const DEFAULT_BUSYBOX_PATH = '/bin/busybox';

/**
 * The sandbox's process: a shell that sleeps forever and exits at once on SIGTERM (a PID 1
 * without a handler ignores SIGTERM, so a bare `sleep` would make every stop wait its grace).
 */
export const PAUSE_COMMAND: readonly string[] = [
  '/bin/sh',
  '-c',
  "trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done",
];

/** What images.ts needs of the engine; the Docker adapter implements it. */
export interface ImageImporter {
  /** The image's Comment, or undefined when no image has the name. */
  imageComment(name: string): Promise<string | undefined>;
  /** `docker import` of a tar archive, tagged `name`, with Dockerfile-style `changes`. */
  importImage(
    name: string,
    archive: Buffer,
    changes: readonly string[],
    comment: string,
  ): Promise<void>;
}

export interface HelperImage {
  readonly archive: Buffer;
  readonly changes: readonly string[];
  /** Comment stored on the image: identifies the content it was made from. */
  readonly comment: string;
}

/** The pause image's archive, from the busybox binary at `busyboxPath`. */
export async function pauseImage(busyboxPath = DEFAULT_BUSYBOX_PATH): Promise<HelperImage> {
  let busybox: Buffer;
  try {
    busybox = await readFile(busyboxPath);
  } catch (error) {
    throw new BerthError(
      'RUNTIME_HELPER_IMAGE_FAILED',
      `cannot read ${busyboxPath} to make ${PAUSE_IMAGE}`,
      {
        hint: 'install a static busybox (Debian: apt-get install busybox-static)',
        cause: error,
      },
    );
  }
  const archive = tarArchive([
    { kind: 'directory', path: 'bin', mode: 0o755 },
    { kind: 'directory', path: 'dev', mode: 0o755 },
    { kind: 'directory', path: 'etc', mode: 0o755 },
    { kind: 'directory', path: 'proc', mode: 0o555 },
    { kind: 'directory', path: 'sys', mode: 0o555 },
    { kind: 'file', path: 'bin/busybox', mode: 0o755, content: busybox },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'symlink', path: 'bin/sleep', target: 'busybox' },
  ]);
  const changes = ['ENV PATH=/bin', `CMD ${JSON.stringify(PAUSE_COMMAND)}`];
  const digest = createHash('sha256').update(archive).update(changes.join('\n')).digest('hex');
  return { archive, changes, comment: `berth helper image, content sha256:${digest}` };
}

/** Makes sure `name` holds `image`; imports it when missing or made from other content. */
export async function ensureHelperImage(
  engine: ImageImporter,
  name: string,
  image: HelperImage,
): Promise<void> {
  if ((await engine.imageComment(name)) === image.comment) return;
  await engine.importImage(name, image.archive, image.changes, image.comment);
  const comment = await engine.imageComment(name);
  if (comment !== image.comment) {
    throw new BerthError(
      'RUNTIME_HELPER_IMAGE_FAILED',
      `${name} does not hold the imported content after import`,
      {
        retry: true,
      },
    );
  }
}

export type TarEntry =
  | { readonly kind: 'directory'; readonly path: string; readonly mode: number }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly mode: number;
      readonly content: Buffer;
    }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

const BLOCK = 512;
/** A fixed mtime keeps the archive, and so its digest, the same on every run. */
const FIXED_MTIME = 1_704_067_200;

/** A ustar archive of short paths (under 100 bytes), owned by root. */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.kind === 'file' ? entry.content : Buffer.alloc(0);
    blocks.push(tarHeader(entry, content.length));
    if (content.length > 0) {
      blocks.push(content, Buffer.alloc((BLOCK - (content.length % BLOCK)) % BLOCK));
    }
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}

function tarHeader(entry: TarEntry, size: number): Buffer {
  const name = entry.kind === 'directory' ? `${entry.path}/` : entry.path;
  const target = entry.kind === 'symlink' ? entry.target : '';
  if (Buffer.byteLength(name) >= 100 || Buffer.byteLength(target) >= 100) {
    throw new RangeError(`tar path too long: ${name} ${target}`);
  }
  const header = Buffer.alloc(BLOCK);
  const field = (value: string, offset: number) => header.write(value, offset, 'utf8');
  const octal = (value: number, width: number) =>
    `${value.toString(8).padStart(width - 1, '0')}\u0000`;
  field(name, 0);
  field(octal(entry.kind === 'symlink' ? 0o777 : entry.mode, 8), 100);
  field(octal(0, 8), 108);
  field(octal(0, 8), 116);
  field(octal(size, 12), 124);
  field(octal(FIXED_MTIME, 12), 136);
  field('        ', 148);
  field(entry.kind === 'file' ? '0' : entry.kind === 'symlink' ? '2' : '5', 156);
  field(target, 157);
  field('ustar\u000000', 257);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148);
  return header;
}
