/**
 * `berth stop` as users run it: the built command against a real `berth serve --no-agent` on a
 * temp data dir (no containers: stopping leaves pods alone whatever runs), and against
 * processes that are not that data dir's serve, which it must never signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBerth } from '../helpers/run-berth.js';
import { waitFor } from '../helpers/wait.js';

const BIN_PATH = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

let dir: string;
let dataDir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-stop-'));
  dataDir = path.join(dir, 'operator');
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  await fsp.rm(dir, { recursive: true, force: true });
});

function start(args: readonly string[]): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  children.push(child);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit };
}

/**
 * True while the process runs: it exists and is not a zombie (a child of this test has exited
 * but is reaped only when the event loop turns, which runBerth's spawnSync holds up).
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** A process that answers berth serve's health check as `pid` and ignores SIGTERM. */
const STUBBORN = `
const http = require('node:http');
process.on('SIGTERM', () => {});
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ ok: true, pid: Number(process.argv[1] ?? process.pid), dataDir: '' }));
});
server.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + server.address().port));
`;

async function stubbornServer(pidToClaim?: number): Promise<{ child: ChildProcess; url: string }> {
  const { child } = start([
    '-e',
    STUBBORN,
    ...(pidToClaim === undefined ? [] : [String(pidToClaim)]),
  ]);
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += String(chunk);
  });
  const url = (await waitFor(() => /http:\/\/\S+/.exec(out), 'the stub listening'))[0];
  return { child, url };
}

async function writeRecord(url: string, pid: number): Promise<void> {
  await fsp.mkdir(dataDir, { recursive: true });
  await fsp.writeFile(
    path.join(dataDir, 'server.json'),
    JSON.stringify({ url, pid, startedAt: new Date().toISOString() }),
  );
}

describe('berth stop', () => {
  it('stops the berth serve of the data dir and waits until it has exited', async () => {
    const serve = start([
      BIN_PATH,
      'serve',
      '--no-agent',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
    ]);
    const record = path.join(dataDir, 'server.json');
    await waitFor(() => existsSync(record), 'server.json written', 30_000);
    const { pid, url } = JSON.parse(await fsp.readFile(record, 'utf8')) as {
      pid: number;
      url: string;
    };
    expect(pid).toBe(serve.child.pid);

    const stopped = runBerth(['stop', '--data-dir', dataDir]);
    expect(stopped.stderr).toBe('');
    expect(stopped.status).toBe(0);
    expect(stopped.stdout).toBe(
      `berth stop: stopping berth serve (pid ${pid}) at ${url}\nberth stop: stopped; pods and their containers keep running\n`,
    );
    // Gone when stop returns, after a clean stop (exit 0, server.json removed).
    expect(alive(pid)).toBe(false);
    expect(await serve.exit).toBe(0);
    expect(existsSync(record)).toBe(false);

    // Nothing to stop is not an error.
    const again = runBerth(['stop', '--data-dir', dataDir]);
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(`berth stop: no berth serve runs on ${dataDir}\n`);
  });

  it('leaves alone a process that does not answer as the recorded serve', async () => {
    // server.json of a crashed serve whose pid now belongs to another process: here, a stub
    // that answers the health check under another pid.
    const stub = await stubbornServer(1);
    const pid = stub.child.pid ?? 0;
    await writeRecord(stub.url, pid);
    const refused = runBerth(['stop', '--data-dir', dataDir]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(
      `berth: process ${pid}, named in ${path.join(dataDir, 'server.json')}, does not answer as berth serve at ${stub.url}; not stopping it`,
    );
    expect(refused.stderr).toContain(
      `hint: if it is a berth serve that hangs, stop it yourself: kill ${pid}`,
    );
    expect(alive(pid)).toBe(true);

    // A record whose process has exited: nothing runs.
    stub.child.kill('SIGKILL');
    await waitFor(() => !alive(pid), 'the stub gone');
    const stale = runBerth(['stop', '--data-dir', dataDir]);
    expect(stale.status).toBe(0);
    expect(stale.stdout).toBe(`berth stop: no berth serve runs on ${dataDir}\n`);
  });

  it('exits 1 when the serve is still running at --timeout', async () => {
    const stub = await stubbornServer();
    const pid = stub.child.pid ?? 0;
    await writeRecord(stub.url, pid);
    const result = runBerth(['stop', '--data-dir', dataDir, '--timeout', '300ms']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe(`berth stop: stopping berth serve (pid ${pid}) at ${stub.url}\n`);
    expect(result.stderr).toBe(
      `berth stop: berth serve (pid ${pid}) still runs after 300ms\nhint: wait longer (--timeout), or kill -9 ${pid}\n`,
    );
    expect(alive(pid)).toBe(true);
  });

  it('refuses arguments and bad flags (exit 2)', () => {
    for (const argv of [['extra'], ['--timeout', 'soon'], ['--bogus']]) {
      const result = runBerth(['stop', ...argv, '--data-dir', dataDir]);
      expect(result.status, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toMatch(/^berth: /);
    }
    const help = runBerth(['help', 'stop']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: berth stop');
  });
});
