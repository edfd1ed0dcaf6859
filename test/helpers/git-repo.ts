/**
 * Builds git repositories with the real `git` in temp folders, as isomorphic-git's own tests
 * build fixtures. Every command runs with a fixed identity, no user or system config, and
 * automatic gc off (a background `gc --auto` would repack while a test reads).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const GIT_TEST_ENV: NodeJS.ProcessEnv = {
  GIT_AUTHOR_NAME: 'berth test',
  GIT_AUTHOR_EMAIL: 'test@berth.invalid',
  GIT_COMMITTER_NAME: 'berth test',
  GIT_COMMITTER_EMAIL: 'test@berth.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_COUNT: '2',
  GIT_CONFIG_KEY_0: 'gc.auto',
  GIT_CONFIG_VALUE_0: '0',
  GIT_CONFIG_KEY_1: 'init.defaultBranch',
  GIT_CONFIG_VALUE_1: 'main',
};

/** Runs git in `cwd`; returns stdout without the trailing newline. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, ...GIT_TEST_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).replace(/\n$/, '');
}

/**
 * Runs git without blocking the event loop: needed when git talks to a server in this same
 * process (the smart-HTTP test server), which a synchronous child would deadlock.
 */
export function gitAsync(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...GIT_TEST_ENV } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`git ${args.join(' ')} failed: ${stderr || error.message}`));
        else resolve(stdout.replace(/\n$/, ''));
      },
    );
  });
}

/** A fresh temp folder; `remove()` deletes it. */
export function makeTempDir(prefix: string): { path: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `berth-${prefix}-`));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A file's content, or `{ symlink: target }` for a symbolic link. */
export type FileSpec = string | Uint8Array | { readonly symlink: string };

/** Writes files (and symlinks) below `dir`, creating folders as needed. */
export function writeTree(dir: string, files: Readonly<Record<string, FileSpec>>): void {
  for (const [file, spec] of Object.entries(files)) {
    const target = path.join(dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    if (typeof spec === 'object' && 'symlink' in spec) {
      rmSync(target, { force: true });
      symlinkSync(spec.symlink, target);
    } else {
      writeFileSync(target, spec);
    }
  }
}

/** A working tree at `dir` with branch main; returns `dir`. */
export function initRepo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}

/** Writes `files`, stages everything and commits; returns the new commit sha. */
export function commitFiles(
  dir: string,
  files: Readonly<Record<string, FileSpec>>,
  message = 'change',
): string {
  writeTree(dir, files);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** Deletes files from the working tree and commits; returns the new commit sha. */
export function commitRemoval(dir: string, files: readonly string[], message = 'remove'): string {
  git(dir, 'rm', '-q', '-r', '--', ...files);
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** Counts of loose objects and packs, as `git count-objects -v` reports them. */
export function objectCounts(gitdir: string): { loose: number; packs: number } {
  const out = execFileSync('git', ['--git-dir', gitdir, 'count-objects', '-v'], {
    encoding: 'utf8',
    env: { ...process.env, ...GIT_TEST_ENV },
  });
  const field = (name: string) =>
    Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(out)?.[1] ?? Number.NaN);
  return { loose: field('count'), packs: field('packs') };
}

/** A small valid Pod manifest named `name`. */
export function podYaml(name: string, image = 'busybox:1.36'): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
    - name: main
      image: ${image}
`;
}
