import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { withMachineLock } from './docker-images.js';

describe('withMachineLock', () => {
  it('never lets two holders of the same key overlap', async () => {
    const key = `selftest-${randomBytes(6).toString('hex')}`;
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        withMachineLock(key, async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          // Yield a few times so an overlapping holder would get to run.
          for (let i = 0; i < 5; i++) await delay(1);
          order.push(n);
          active--;
        }),
      ),
    );
    expect(maxActive).toBe(1);
    expect(order.sort()).toEqual([1, 2, 3]);
  });

  it('releases the lock when the work fails', async () => {
    const key = `selftest-${randomBytes(6).toString('hex')}`;
    await expect(
      withMachineLock(key, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(withMachineLock(key, async () => 'again')).resolves.toBe('again');
  });

  it('takes over a lock left by a process that died', async () => {
    const key = `selftest-${randomBytes(6).toString('hex')}`;
    const exited = spawnSync(process.execPath, ['-e', '0']);
    expect(exited.status).toBe(0);
    const lockDir = join(tmpdir(), `berth-test-lock-${key}`);
    mkdirSync(lockDir);
    writeFileSync(join(lockDir, 'pid'), String(exited.pid));
    await expect(withMachineLock(key, async () => 'taken over')).resolves.toBe('taken over');
  });
});
