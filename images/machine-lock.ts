/**
 * Serialising work across every process on this machine (test files run in parallel workers
 * and may all ask for the same image): a lock directory under the temp dir, created atomically
 * by mkdir and holding the owner's pid. A lock whose owner died (a killed run) is taken over.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const LOCK_POLL_MS = 200;
/** A lock directory without a pid this long after its making belongs to a process that died. */
const PID_LESS_STALE_MS = 10_000;

export interface MachineLockOptions {
  /** The lock directory's name under the temp dir (any characters; unsafe ones replaced). */
  readonly name: string;
  readonly waitMs: number;
  /** The error thrown when another holder kept the lock past waitMs. */
  readonly timeoutError: (lockDir: string) => Error;
  /** Told once when the lock is held by another process and this one starts waiting. */
  readonly onWait?: (lockDir: string) => void;
}

/**
 * Takes the lock, waiting while a live process holds it; the function returned releases it
 * (safe twice). For a lock held across steps, e.g. a test file's beforeAll to its afterAll.
 */
export async function acquireMachineLock(
  options: MachineLockOptions,
): Promise<() => Promise<void>> {
  const lockDir = join(tmpdir(), options.name.replace(/[^A-Za-z0-9._-]/g, '_'));
  const deadline = Date.now() + options.waitMs;
  let said = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await rm(lockDir, { recursive: true, force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await lockOwnerGone(lockDir)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw options.timeoutError(lockDir);
    if (!said) {
      options.onWait?.(lockDir);
      said = true;
    }
    await delay(LOCK_POLL_MS);
  }
}

export async function withMachineLock<T>(
  options: MachineLockOptions,
  work: () => Promise<T>,
): Promise<T> {
  const release = await acquireMachineLock(options);
  try {
    return await work();
  } finally {
    await release();
  }
}

async function lockOwnerGone(lockDir: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(await readFile(join(lockDir, 'pid'), 'utf8'));
  } catch {
    // No pid yet: the owner is between mkdir and writeFile, unless it died right there.
    try {
      return Date.now() - (await stat(lockDir)).mtimeMs > PID_LESS_STALE_MS;
    } catch {
      return false; // the lock vanished: the next mkdir will tell
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
