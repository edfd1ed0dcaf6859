/**
 * The README's first command, end to end: `bash scripts/quickstart.sh` with its own HOME (so
 * ~/berth-guestbook is this test's), data dir, a free port and node name, on the real Docker
 * Engine. The Guestbook it reports ready answers its API on the printed URL; the token never
 * shows in the output or the repository's config; a second run reuses everything. Needs the
 * Guestbook's images (built by `npm run images`, which the script runs; minutes when absent).
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import { acquireServeLock } from '../e2e/harness.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { REPO_ROOT, runBerth } from '../helpers/run-berth.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'quickstart.sh');
const NODE = uniqueTestName('quickstart');
/** Fixed by guestbook/frontend-service.yaml. */
const GUESTBOOK_URL = 'http://127.0.0.1:30080/';
/** The first run may build the images. */
const FIRST_RUN_TIMEOUT_MS = 20 * 60_000;

let home: string;
let dataDir: string;
let releaseLock: (() => Promise<void>) | undefined;

interface ScriptRun {
  readonly code: number | null;
  readonly output: string;
  readonly ms: number;
}

/** Runs the script as a user would, stdout and stderr as one text. */
function quickstart(timeoutMs: number): Promise<ScriptRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
      cwd: home,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: home, BERTH_NODE_NAME: NODE, NO_COLOR: '1' },
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += String(chunk);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`quickstart.sh did not finish in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

/** The `==> step` lines of a run. */
function steps(output: string): string[] {
  return output.split('\n').filter((line) => line.startsWith('==> '));
}

beforeAll(async () => {
  // One berth serve at a time on the machine: agents share the BERTH chains, port 53, 30080.
  releaseLock = await acquireServeLock();
  home = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-quickstart-'));
  dataDir = path.join(home, 'operator');
}, 21 * 60_000);

afterAll(async () => {
  if (dataDir !== undefined) {
    const stopped = runBerth(['stop', '--data-dir', dataDir]);
    if (stopped.status !== 0) {
      // A serve that did not stop on SIGTERM: the record names it.
      const record = await fsp.readFile(path.join(dataDir, 'server.json'), 'utf8').catch(() => '');
      const pid = record === '' ? undefined : (JSON.parse(record) as { pid?: number }).pid;
      if (pid !== undefined) spawnSync('kill', ['-9', String(pid)]);
    }
  }
  const all = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`] },
  });
  for (const c of all) await removeContainerIfPresent(docker(), c.Id);
  if (home !== undefined) await fsp.rm(home, { recursive: true, force: true });
  await releaseLock?.();
}, 120_000);

describe('scripts/quickstart.sh', () => {
  it(
    'runs the Guestbook on berth from a git push, then reruns in seconds reusing everything',
    async () => {
      const first = await quickstart(FIRST_RUN_TIMEOUT_MS);
      expect(first.code, first.output).toBe(0);
      expect(steps(first.output)).toEqual([
        '==> dependencies',
        '==> Docker Engine',
        '==> images',
        '==> berth serve',
        '==> git push',
        '==> waiting until guestbook is Synced and Healthy',
      ]);
      expect(first.output).toContain('remote: berth: app guestbook created, tracking main');
      expect(first.output).toMatch(/guestbook: Synced and Healthy at [0-9a-f]{7} \(6 pods ready\)/);
      expect(first.output).toContain(`The Guestbook runs on berth: open ${GUESTBOOK_URL}`);
      expect(first.output).toContain(`npx berth stop --data-dir ${dataDir}`);

      // The printed URL serves the Guestbook's API (read through the redis replicas).
      const response = await fetch(`${GUESTBOOK_URL}guestbook.php?cmd=get&key=messages`, {
        signal: AbortSignal.timeout(10_000),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data?: unknown };
      expect(typeof body.data).toBe('string');

      // The token is in the data dir only: never printed, never in the repository's config.
      const token = (await fsp.readFile(path.join(dataDir, 'token'), 'utf8')).trim();
      expect(token.length).toBeGreaterThan(8);
      expect(first.output).not.toContain(token);
      const repo = path.join(home, 'berth-guestbook');
      expect(await fsp.readFile(path.join(repo, '.git', 'config'), 'utf8')).not.toContain(token);
      // The working repo is the whole guestbook/ folder, committed on main: the frontend's
      // source and recipe too, which its .berthignore keeps berth from reading as manifests.
      const listed = spawnSync('git', ['-C', repo, 'ls-files'], { encoding: 'utf8' });
      const shipped = spawnSync('git', ['-C', path.join(REPO_ROOT, 'guestbook'), 'ls-files'], {
        encoding: 'utf8',
      });
      expect(listed.stdout.split('\n').filter(Boolean).sort()).toEqual(
        shipped.stdout.split('\n').filter(Boolean).sort(),
      );
      expect(listed.stdout).toContain('frontend-controller.yaml');
      expect(listed.stdout).toContain('frontend/image.yaml');
      expect(listed.stdout).toContain('.berthignore');

      const second = await quickstart(5 * 60_000);
      expect(second.code, second.output).toBe(0);
      expect(second.output).toMatch(/reusing the berth serve at http:\/\/127\.0\.0\.1:\d+/);
      expect(second.output).toContain(`reusing the repository ${repo}`);
      expect(second.output).toContain('Everything up-to-date');
      expect(second.output).not.toContain('starting berth serve');
      expect(second.output).not.toContain('npm ci');
      expect(second.ms).toBeLessThan(60_000);
    },
    FIRST_RUN_TIMEOUT_MS + 6 * 60_000,
  );
});
