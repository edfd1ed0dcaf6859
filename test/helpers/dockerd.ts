/**
 * Restarting the machine's Docker Engine, for the test that checks pods come back after a
 * dockerd restart. The engine is the one `.ci/run` (or a person) started; it is stopped with
 * SIGTERM and started again with its own command line, detached, logging to a file.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { docker } from './docker.js';
import { waitFor } from './wait.js';

const RESTART_LOG = '/var/log/berth-ci/dockerd-restart.log';

function dockerdProcess(): { pid: number; argv: string[] } | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'dockerd') continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      return { pid: Number(entry), argv };
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

async function engineAnswers(): Promise<boolean> {
  try {
    await docker().ping();
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the running dockerd, wait for it to exit, start it again, wait until it answers. */
export async function restartDockerd(): Promise<void> {
  const running = dockerdProcess();
  if (running === undefined) throw new Error('dockerd restart: no dockerd process on this machine');
  process.kill(running.pid, 'SIGTERM');
  await waitFor(() => dockerdProcess()?.pid !== running.pid, 'dockerd to exit', 60_000);
  mkdirSync('/var/log/berth-ci', { recursive: true });
  const log = openSync(RESTART_LOG, 'a');
  const [command, ...args] = running.argv;
  const child = spawn(command ?? 'dockerd', args, {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  await waitFor(engineAnswers, 'dockerd to answer again', 60_000);
}
