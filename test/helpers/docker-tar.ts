/**
 * A minimal ustar writer for root filesystems of test images. Docker's image import takes a
 * plain tar stream, so test images need no registry, no builder and no temp directory.
 * Output is byte-for-byte deterministic (fixed owner and mtime, entries in the given order):
 * the same recipe gives the same layer digest on every run and every worker.
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
