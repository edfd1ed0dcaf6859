/**
 * Reads the files of a pushed commit while `pre-receive` runs. git keeps a push's objects in a
 * quarantine folder until every hook accepts, so only a git run with the hook's object
 * variables sees them; this runs `git ls-tree` and `git cat-file --batch` that way.
 */
import { spawn } from 'node:child_process';
import { IGNORE_FILE_NAME, parseIgnoreRules, relativeTo } from '../source/ignore.js';
import { joinRepoPath, normalizeSubpath } from '../source/paths.js';
import { isZeroSha } from './hooks.js';
import { runGit } from './repos.js';

/** Where a push's objects can be read during `pre-receive`. */
export interface PushObjects {
  /** The working directory git gave the hook; relative paths in `env` start here. */
  readonly cwd: string;
  /** GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_QUARANTINE_PATH. */
  readonly env: Readonly<Record<string, string>>;
}

export interface PushedFile {
  /** Path from the repository's root, `/`-separated. */
  readonly path: string;
  readonly content: Buffer;
}

export interface ReadPushedFilesOptions {
  /** Reads only the files whose path this accepts (e.g. manifest names). @default every file */
  readonly only?: (path: string) => boolean;
}

/**
 * The regular files of commit `sha` (below `subPath` when given), read through the push's
 * quarantine. Symbolic links and submodules are left out. A deletion (all-zero sha) has none.
 * The `.berthignore` at the root of the folder read (`subPath`, else the repository's root)
 * applies, as in every source listing: ignored files are not read.
 */
export async function readPushedFiles(
  push: {
    readonly repoPath: string;
    readonly newSha: string;
    readonly objects: PushObjects;
  },
  subPath?: string,
  options: ReadPushedFilesOptions = {},
): Promise<PushedFile[]> {
  if (isZeroSha(push.newSha)) return [];
  const env = { ...push.objects.env, GIT_DIR: push.repoPath };
  const root = normalizeSubpath(subPath);
  const args = ['ls-tree', '-r', '-z', '--full-tree', push.newSha];
  if (root !== '') args.push('--', root);
  const listing = await runGit(args, { cwd: push.objects.cwd, env });
  const ignoreFile = joinRepoPath(root, IGNORE_FILE_NAME);
  let ignoreSha: string | undefined;
  let entries: { path: string; sha: string }[] = [];
  for (const record of listing.split('\0')) {
    const tab = record.indexOf('\t');
    if (tab < 0) continue;
    const [mode, type, sha] = record.slice(0, tab).split(' ');
    if (type !== 'blob' || sha === undefined || (mode !== '100644' && mode !== '100755')) continue;
    const path = record.slice(tab + 1);
    if (path === ignoreFile) ignoreSha = sha;
    entries.push({ path, sha });
  }
  const { only } = options;
  if (only !== undefined) entries = entries.filter((entry) => only(entry.path));
  if (ignoreSha !== undefined && entries.length > 0) {
    const [content] = await catFileBatch([ignoreSha], push.objects.cwd, env);
    const rules = content === undefined ? undefined : parseIgnoreRules(content);
    if (rules !== undefined) {
      entries = entries.filter(
        (entry) => entry.path === ignoreFile || !rules.ignores(relativeTo(root, entry.path)),
      );
    }
  }
  if (entries.length === 0) return [];
  const contents = await catFileBatch(
    entries.map((entry) => entry.sha),
    push.objects.cwd,
    env,
  );
  return entries.map((entry, index) => ({ path: entry.path, content: contents[index]! }));
}

/** Object contents in the order asked, from one `git cat-file --batch`. */
function catFileBatch(
  shas: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string>>,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`git cat-file failed: ${stderr.trim() || `exit ${code}`}`));
        return;
      }
      const out = Buffer.concat(chunks);
      const contents: Buffer[] = [];
      let at = 0;
      for (const sha of shas) {
        const newline = out.indexOf(0x0a, at);
        if (newline < 0) {
          reject(new Error(`git cat-file: no answer for ${sha}`));
          return;
        }
        const header = out.subarray(at, newline).toString('latin1').split(' ');
        if (header[1] === 'missing' || header.length < 3) {
          reject(new Error(`git cat-file: object ${sha} is missing`));
          return;
        }
        const size = Number(header[2]);
        contents.push(out.subarray(newline + 1, newline + 1 + size));
        at = newline + 1 + size + 1;
      }
      resolve(contents);
    });
    child.stdin.on('error', () => {
      // close reports the failure.
    });
    child.stdin.end(`${shas.join('\n')}\n`);
  });
}
