/**
 * The file system isomorphic-git reads object databases through. isomorphic-git looks for
 * every object first as a loose file, then lists objects/pack: two to three syscalls per object,
 * most of them failing, which made a 10,000-file commit take seconds. This wrapper answers those
 * lookups from listings taken once per generation (one `readdir` per fan-out folder and per pack
 * folder); `refresh()` starts a new generation, so objects written since are seen.
 */
import type fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FileSystem } from 'isomorphic-git/models';

const LOOSE_OBJECT = /[/\\]objects[/\\]([0-9a-f]{2})[/\\]([0-9a-f]{38})$/;
const PACK_FOLDER = /[/\\]objects[/\\]pack[/\\]?$/;

/**
 * Thrown for objects the listing says are absent. isomorphic-git only looks at `code`; one
 * shared instance avoids capturing a stack trace per lookup (a measurable cost per object).
 */
const NOT_FOUND: NodeJS.ErrnoException = Object.freeze(
  Object.assign(new Error('ENOENT: no such object file'), { code: 'ENOENT' }),
);

/** Node's fs for isomorphic-git, with memoized listings of object folders. */
export class ObjectDatabaseFs {
  private listings = new Map<string, Promise<ReadonlySet<string>>>();
  private gitdirStats = new Map<string, Promise<fs.Stats>>();

  /**
   * Wrapped once in isomorphic-git's own FileSystem: handed a plain fs, every isomorphic-git
   * call wraps it anew and probes it by calling readFile() without arguments (a thrown error
   * and a stack trace per object read).
   */
  readonly client: FileSystem;

  constructor() {
    const readFile = (file: string, options?: unknown) => this.readFile(file, options);
    const readdir = (folder: string) => this.readdir(folder);
    const stat = (file: string) => this.stat(file);
    this.client = new FileSystem({
      promises: {
        readFile,
        readdir,
        stat,
        lstat: fsp.lstat,
        readlink: fsp.readlink,
        writeFile: fsp.writeFile,
        mkdir: fsp.mkdir,
        rmdir: fsp.rmdir,
        unlink: fsp.unlink,
        symlink: fsp.symlink,
        rm: fsp.rm,
      },
    });
  }

  /** Forgets every listing: the next lookups see objects written since. */
  refresh(): void {
    this.listings = new Map();
    this.gitdirStats = new Map();
  }

  /** Names in a folder as of this generation (empty when it does not exist). */
  listing(folder: string): Promise<ReadonlySet<string>> {
    let names = this.listings.get(folder);
    if (names === undefined) {
      names = fsp.readdir(folder).then(
        (list) => new Set(list),
        () => new Set<string>(),
      );
      this.listings.set(folder, names);
    }
    return names;
  }

  private async readFile(file: string, options?: unknown): Promise<Buffer | string> {
    if (typeof file !== 'string') throw NOT_FOUND;
    const loose = LOOSE_OBJECT.exec(file);
    if (loose !== null) {
      const names = await this.listing(path.dirname(file));
      if (!names.has(loose[2] as string)) throw NOT_FOUND;
    }
    return fsp.readFile(file, options as Parameters<typeof fsp.readFile>[1]);
  }

  private async readdir(folder: string): Promise<string[]> {
    if (PACK_FOLDER.test(folder)) return [...(await this.listing(folder.replace(/[/\\]$/, '')))];
    return fsp.readdir(folder);
  }

  private stat(file: string): Promise<fs.Stats> {
    // isomorphic-git stats the git directory on every call to find out whether it is a `.git` file.
    let stat = this.gitdirStats.get(file);
    if (stat === undefined) {
      stat = fsp.stat(file);
      this.gitdirStats.set(file, stat);
      stat.catch(() => this.gitdirStats.delete(file));
    }
    return stat;
  }
}
