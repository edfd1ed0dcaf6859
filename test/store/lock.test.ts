import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BerthError } from '../../operator/model/errors.js';
import {
  acquireDataDirLock,
  LOCK_FILE_NAME,
  openStore,
  type Store,
} from '../../operator/store/index.js';

let dataDir: string;
const opened: Store[] = [];
const children: ChildProcess[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
});

afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function open(): Store {
  const store = openStore(dataDir);
  opened.push(store);
  return store;
}

function errorOf(work: () => unknown): BerthError {
  try {
    work();
  } catch (error) {
    if (error instanceof BerthError) return error;
    throw error;
  }
  throw new Error('expected a BerthError');
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', '']);
  expect(result.status).toBe(0);
  return result.pid;
}

/** A live process that is not this one: it waits on its stdin until killed. */
async function liveOtherProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  expect(child.pid).toBeDefined();
  return child.pid!;
}

const RACER = join(import.meta.dirname, 'lock-racer.ts');
const lockPath = () => join(dataDir, LOCK_FILE_NAME);

describe('data dir lock', () => {
  it('writes our pid and refuses a second open naming the pid and the data dir', () => {
    open();
    expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(process.pid));
    const error = errorOf(() => openStore(dataDir));
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain(String(process.pid));
    expect(error.message).toContain(dataDir);
    expect(error.retry).toBe(true);
  });

  it('refuses a lock held by another live process', async () => {
    const pid = await liveOtherProcess();
    writeFileSync(lockPath(), `${pid}\n`);
    const error = errorOf(() => openStore(dataDir));
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain(`pid ${pid}`);
    // Refusing leaves the holder's lock alone.
    expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(pid));
  });

  it('takes over a stale lock whose pid is dead', () => {
    writeFileSync(lockPath(), `${deadPid()}\n`);
    const store = open();
    expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(process.pid));
    expect(store.nodes()).toEqual([]);
  });

  it('takes over a lock file with no pid in it', () => {
    writeFileSync(lockPath(), 'garbage');
    open();
    expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(process.pid));
  });

  it('is released on close, so the next open succeeds', () => {
    const store = open();
    store.close();
    expect(existsSync(lockPath())).toBe(false);
    open();
    expect(existsSync(lockPath())).toBe(true);
  });

  it('does not remove a lock that another process has taken since', async () => {
    const lock = acquireDataDirLock(dataDir);
    const pid = await liveOtherProcess();
    writeFileSync(lockPath(), `${pid}\n`);
    lock.release();
    expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(pid));
  });

  it('leaves no draft files behind', () => {
    writeFileSync(lockPath(), `${deadPid()}\n`);
    open().close();
    expect(readdirSync(dataDir).filter((name) => name.includes(LOCK_FILE_NAME))).toEqual([]);
  });

  it('reports a data dir it cannot write as STORE_FAILED', () => {
    expect(errorOf(() => acquireDataDirLock(join(dataDir, 'missing'))).code).toBe('STORE_FAILED');
  });

  it('lets exactly one of several racing processes take a stale lock', async () => {
    writeFileSync(lockPath(), `${deadPid()}\n`);
    const racers = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', RACER, dataDir], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      return new Promise<{ answer: string; pid: number }>((resolve) => {
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('\n')) resolve({ answer: output.trim(), pid: child.pid! });
        });
      });
    });
    const answers = await Promise.all(racers);
    const winners = answers.filter((racer) => racer.answer === 'won');
    expect(winners.length, JSON.stringify(answers)).toBe(1);
    expect(answers.filter((racer) => racer.answer === 'STORE_LOCKED').length).toBe(3);
    expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(winners[0]!.pid));
  });

  it('clears a takeover lock left by a dead process, and waits out a live one', async () => {
    const guardPath = `${lockPath()}.takeover`;
    writeFileSync(lockPath(), `${deadPid()}\n`);
    writeFileSync(guardPath, `${deadPid()}\n`);
    open().close();
    expect(existsSync(guardPath)).toBe(false);

    // A live process in the middle of a takeover: no one else removes the stale lock meanwhile.
    writeFileSync(lockPath(), `${deadPid()}\n`);
    writeFileSync(guardPath, `${await liveOtherProcess()}\n`);
    const error = errorOf(() => openStore(dataDir));
    expect(error.code).toBe('STORE_LOCKED');
    expect(existsSync(lockPath())).toBe(true);
  });
});
