import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TarEntry } from '../helpers/docker-tar.js';

/**
 * Recipe of `berth-test/busybox:1`: Debian's static busybox (package busybox-static) with a
 * symlink for every applet at the path busybox itself reports (`--list-full`: /bin/sh,
 * /usr/bin/wget, /usr/sbin/httpd, ...), plus the few files a shell image is expected to
 * have (/etc/passwd, a sticky /tmp).
 */

export interface ImageRecipe {
  /** The image's root filesystem, in archive order. */
  readonly entries: readonly TarEntry[];
  /** Dockerfile instructions applied on import (`ENV`, `CMD`, ...). */
  readonly changes: readonly string[];
}

export const BUSYBOX_PATH = '/bin/busybox';

const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const DIRECTORIES: ReadonlyArray<readonly [path: string, mode: number]> = [
  ['bin', 0o755],
  ['sbin', 0o755],
  ['usr', 0o755],
  ['usr/bin', 0o755],
  ['usr/sbin', 0o755],
  ['usr/local', 0o755],
  ['usr/local/bin', 0o755],
  ['etc', 0o755],
  ['root', 0o700],
  ['home', 0o755],
  ['var', 0o755],
  ['var/www', 0o755],
  ['tmp', 0o1777],
  // Mount points the runtime fills; present so tools that stat them before mounting are happy.
  ['proc', 0o555],
  ['sys', 0o555],
  ['dev', 0o755],
];

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'nogroup:x:65534:', ''].join('\n');

export class BusyboxUnavailableError extends Error {
  readonly code: 'BUSYBOX_MISSING' | 'BUSYBOX_NOT_STATIC';
  constructor(code: BusyboxUnavailableError['code'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BusyboxUnavailableError';
    this.code = code;
  }
}

export function busyboxRecipe(busyboxPath = BUSYBOX_PATH): ImageRecipe {
  const binary = readBusybox(busyboxPath);
  if (isDynamicallyLinked(binary)) {
    throw new BusyboxUnavailableError(
      'BUSYBOX_NOT_STATIC',
      `${busyboxPath} is dynamically linked and cannot run alone in an image; install busybox-static (apt-get install busybox-static)`,
    );
  }
  const applets = execFileSync(busyboxPath, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim())
    // Entries without a directory (Debian lists "linuxrc") belong to initramfs use.
    .filter((line) => line.includes('/') && line !== 'bin/busybox');
  const entries: TarEntry[] = DIRECTORIES.map(([path, mode]) => ({
    kind: 'directory',
    path,
    mode,
  }));
  entries.push(
    { kind: 'file', path: 'bin/busybox', mode: 0o755, content: binary },
    { kind: 'file', path: 'etc/passwd', mode: 0o644, content: Buffer.from(PASSWD) },
    { kind: 'file', path: 'etc/group', mode: 0o644, content: Buffer.from(GROUP) },
  );
  for (const applet of [...new Set(applets)].sort()) {
    entries.push({ kind: 'symlink', path: applet, target: '/bin/busybox' });
  }
  return { entries, changes: [`ENV PATH=${IMAGE_PATH}`, 'CMD ["/bin/sh"]'] };
}

function readBusybox(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new BusyboxUnavailableError(
      'BUSYBOX_MISSING',
      `cannot read ${path}: test images need Debian's busybox-static (apt-get install busybox-static)`,
      error,
    );
  }
}

/** True when an ELF executable asks for a program interpreter (ld.so), i.e. is not static. */
export function isDynamicallyLinked(elf: Uint8Array): boolean {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const isElf = elf[0] === 0x7f && elf[1] === 0x45 && elf[2] === 0x4c && elf[3] === 0x46;
  if (!isElf || elf.byteLength < 0x40) return true;
  const is64 = elf[4] === 2;
  const little = elf[5] === 1;
  const programHeaderOffset = is64
    ? Number(view.getBigUint64(0x20, little))
    : view.getUint32(0x1c, little);
  const entrySize = view.getUint16(is64 ? 0x36 : 0x2a, little);
  const count = view.getUint16(is64 ? 0x38 : 0x2c, little);
  const PT_INTERP = 3;
  for (let index = 0; index < count; index++) {
    const at = programHeaderOffset + index * entrySize;
    if (at + 4 > elf.byteLength) return true;
    if (view.getUint32(at, little) === PT_INTERP) return true;
  }
  return false;
}
