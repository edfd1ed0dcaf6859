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

/**
 * A minimal ustar writer: Docker's image import takes a plain tar stream, so helper images
 * (and test images) need no registry, no builder and no temp directory. Output is
 * byte-for-byte deterministic (fixed owner and mtime, entries in the given order): the same
 * content gives the same layer digest on every run.
 */
export type TarEntry =
  | { readonly kind: 'directory'; readonly path: string; readonly mode: number }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly mode: number;
      readonly content: Uint8Array;
    }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

/** 2024-01-01T00:00:00Z: any fixed time keeps archives reproducible; 0 upsets some tools. */
export const TAR_FIXED_MTIME_SECONDS = 1_704_067_200;

const BLOCK = 512;
const NAME_FIELD = 100;

/** Entry paths are relative to the image root, without a leading slash ("bin/sh"). */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.kind === 'file' ? Buffer.from(entry.content) : Buffer.alloc(0);
    parts.push(tarHeader(entry, content.length));
    if (content.length > 0) {
      parts.push(content, Buffer.alloc(paddingFor(content.length)));
    }
  }
  // Two zero blocks mark the end of the archive.
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function tarHeader(entry: TarEntry, size: number): Buffer {
  const path = trimSlashes(entry.path);
  const name = entry.kind === 'directory' ? `${path}/` : path;
  if (path.length === 0 || Buffer.byteLength(name) > NAME_FIELD) {
    throw new RangeError(`tar entry path must be 1..${NAME_FIELD} bytes: ${JSON.stringify(name)}`);
  }
  const linkTarget = entry.kind === 'symlink' ? entry.target : '';
  if (Buffer.byteLength(linkTarget) > NAME_FIELD) {
    throw new RangeError(`symlink target longer than ${NAME_FIELD} bytes: ${linkTarget}`);
  }
  const mode = entry.kind === 'symlink' ? 0o777 : entry.mode;
  const typeFlag = entry.kind === 'file' ? '0' : entry.kind === 'symlink' ? '2' : '5';

  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, NAME_FIELD, 'utf8');
  header.write(octal(mode, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii'); // uid
  header.write(octal(0, 8), 116, 'ascii'); // gid
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(TAR_FIXED_MTIME_SECONDS, 12), 136, 'ascii');
  header.write(' '.repeat(8), 148, 'ascii'); // checksum counts itself as spaces
  header.write(typeFlag, 156, 'ascii');
  header.write(linkTarget, 157, NAME_FIELD, 'utf8');
  header.write('ustar\u000000', 257, 'ascii');
  header.write('root', 265, 'ascii');
  header.write('root', 297, 'ascii');
  header.write(octal(0, 8), 329, 'ascii'); // devmajor
  header.write(octal(0, 8), 337, 'ascii'); // devminor

  let checksum = 0;
  for (const byte of header) checksum += byte;
  header.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148, 'ascii');
  return header;
}

/** A NUL-terminated octal number filling a field of `width` bytes. */
function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1) {
    throw new RangeError(`value ${value} does not fit a ${width}-byte tar field`);
  }
  return `${digits.padStart(width - 1, '0')}\u0000`;
}

function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}
