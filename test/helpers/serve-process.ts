/**
 * `berth serve` as users start it: the built command in a child process, its output kept, its
 * URL read from stdout and its token from the data dir; the operator API called with it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GIT_TEST_ENV } from './git-repo.js';
import { waitFor } from './wait.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
  readonly dataDir: string;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** The git URL of a hosted app, with the token as password. */
  gitRemote(app: string): string;
  /** GET or POST on the operator API with the token; the parsed JSON body. */
  api(method: 'GET' | 'POST', route: string): Promise<{ status: number; body: unknown }>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

export async function startServe(options: {
  readonly dataDir: string;
  readonly node: string;
  readonly args?: readonly string[];
}): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      options.dataDir,
      '--node-name',
      options.node,
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk) => {
    out.stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    out.stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = (
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`berth serve exited: ${out.stderr}`);
        return /operator at (http:\/\/127\.0\.0\.1:\d+) /.exec(out.stdout);
      },
      'the served URL',
      30_000,
    )
  )[1]!;
  const token = (await fsp.readFile(path.join(options.dataDir, 'token'), 'utf8')).trim();
  return {
    child,
    url,
    token,
    dataDir: options.dataDir,
    exited,
    output: () => ({ ...out }),
    gitRemote: (app) => `${url.replace('http://', `http://x:${token}@`)}/git/${app}.git`,
    async api(method, route) {
      const response = await fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
    },
  };
}

/** Stops a serve that still runs (SIGKILL: a test that failed midway). */
export async function killServe(serve: ServeProcess | undefined): Promise<void> {
  const child = serve?.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await serve?.exited;
}

export interface GitRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs git without blocking the event loop. */
export function runGit(cwd: string, ...args: string[]): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_TEST_ENV } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
