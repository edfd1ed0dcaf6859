/**
 * One operator per data dir: a lock file holding the owner's pid. It is created whole and
 * atomically (written under a private name, then hard-linked to the lock name, which fails if
 * the name exists), so a reader never sees a half-written pid. A lock whose pid is dead is stale
 * (the operator was killed) and is taken over; a live one is refused.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../model/errors.js';

export const LOCK_FILE_NAME = 'berth.lock';

export interface DataDirLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Safe to call twice. */
  release(): void;
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLockPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number.parseInt(text.trim(), 10);
  // Unparsable content cannot name a live owner: it is treated as stale (pid 0 is never alive here).
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to clean.
  }
}

/** Takes the data dir's lock for this process, or throws STORE_LOCKED naming the holder. */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  try {
    return acquireOrRefuse(dataDir);
  } catch (error) {
    if (error instanceof BerthError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new BerthError('STORE_FAILED', `cannot lock data dir ${dataDir}: ${message}`, {
      cause: error,
    });
  }
}

function acquireOrRefuse(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE_NAME);
  const unique = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const draft = join(dataDir, `.${LOCK_FILE_NAME}.${unique}`);
  writeFileSync(draft, `${process.pid}\n`, { mode: 0o644 });
  try {
    // A few rounds: a stale lock removed may be taken first by another operator, or another
    // operator may be removing it (we then wait for it to be gone).
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        linkSync(draft, path);
        return makeLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readLockPid(path);
      if (holder === undefined) continue;
      if (holder > 0 && isProcessAlive(holder)) {
        throw new BerthError(
          'STORE_LOCKED',
          `data dir ${dataDir} is in use by another berth operator (pid ${holder})`,
          {
            retry: true,
            hint: `stop the operator with pid ${holder}, or give this one another --data-dir`,
          },
        );
      }
      takeOverStaleLock(path, holder, draft);
    }
    throw new BerthError('STORE_LOCKED', `could not take the lock of data dir ${dataDir}`, {
      retry: true,
      hint: 'another operator keeps starting on this data dir; stop it and try again',
    });
  } finally {
    unlinkQuietly(draft);
  }
}

/**
 * Removes a stale lock, under a second lock (`berth.lock.takeover`, created the same atomic way):
 * only its holder may remove the lock file, and it checks the pid again first, so a racing
 * operator's fresh lock is never removed. A takeover lock left by a dead process is removed.
 */
function takeOverStaleLock(path: string, stalePid: number, draft: string): void {
  const guard = `${path}.takeover`;
  try {
    linkSync(draft, guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const guardHolder = readLockPid(guard);
    if (guardHolder !== undefined && !(guardHolder > 0 && isProcessAlive(guardHolder))) {
      unlinkQuietly(guard);
    }
    return;
  }
  try {
    // The lock name cannot be taken while it exists, and no one else removes it while we hold
    // the guard: if it still names the stale pid, it is still the stale lock.
    if (readLockPid(path) === stalePid) unlinkQuietly(path);
  } finally {
    unlinkQuietly(guard);
  }
}

function makeLock(path: string): DataDirLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      if (readLockPid(path) === process.pid) unlinkQuietly(path);
    },
  };
}
