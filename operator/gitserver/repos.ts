/**
 * The bare repositories berth hosts: `<reposDir>/<app>.git`, one per app, made on the first push
 * to a new name (`git init --bare`, branch main) with berth's hooks in them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BerthError } from '../model/errors.js';
import { checkAppName } from '../operator/sync-app.js';
import { installHooks } from './hooks.js';

/** The reason `name` is not an app name, or undefined when it is one. */
export function appNameProblem(name: string): string | undefined {
  try {
    checkAppName(name);
    return undefined;
  } catch (error) {
    if (error instanceof BerthError) {
      return `${error.message}: ${error.hint ?? 'use a DNS-1123 label'}`;
    }
    throw error;
  }
}

/** Where the repository of `app` lives. */
export function repoPathOf(reposDir: string, app: string): string {
  return path.join(path.resolve(reposDir), `${app}.git`);
}

/** Runs git; resolves with stdout, rejects with git's stderr in the message. */
export function runGit(
  args: readonly string[],
  options: { cwd?: string; env?: Readonly<Record<string, string>>; maxBuffer?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      {
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        env: { ...process.env, ...options.env },
        encoding: 'utf8',
        maxBuffer: options.maxBuffer ?? 1 << 26,
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`git ${args[0] ?? ''} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

export async function isDirectory(dir: string): Promise<boolean> {
  const stat = await fsp.stat(dir).catch(() => undefined);
  return stat?.isDirectory() === true;
}

/**
 * Makes the bare repository of `app` whole or not at all (made aside, then renamed into place);
 * resolves true when this call made it, false when it was there already.
 */
export async function createBareRepo(reposDir: string, app: string): Promise<boolean> {
  const target = repoPathOf(reposDir, app);
  if (await isDirectory(target)) return false;
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `.${app}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await runGit(['init', '--quiet', '--bare', '--initial-branch=main', temp]);
    // Histories may be rewritten (berth follows force-pushes); deletions reach the hooks.
    await runGit(['config', 'receive.denyNonFastForwards', 'false'], { cwd: temp });
    await runGit(['config', 'receive.denyDeletes', 'false'], { cwd: temp });
    await installHooks(path.join(temp, 'hooks'));
    try {
      await fsp.rename(temp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
      throw error;
    }
    return true;
  } finally {
    await fsp.rm(temp, { recursive: true, force: true });
  }
}
