/**
 * Issue-4 benchmark, on the real Docker Engine: converge one ReplicationController of 50
 * replicas on one node with `berth apply` (the built command, from spawn to exit 0, which
 * waits until every pod is Running and Ready), against `docker stack deploy` of a service of
 * the same 50 replicas on a one-node Docker Swarm (from the deploy command until 50 tasks are
 * Running), in the same run, one after the other (the engine deadlocks under parallel churn).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDockerRuntime } from '../operator/agent/index.js';
import { LABELS } from '../operator/agent/runtime.js';
import { docker, removeContainerIfPresent } from '../test/helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/docker-images.js';
import { ms, printVerdicts, type Verdict } from './harness.js';

const REPLICAS = 50;
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(REPO_ROOT, 'bin', 'berth.js');
const DEADLINE_MS = 300_000;
const POLL_MS = 100;

const run = promisify(execFile);

/** `docker ARGS`; stdout, or a thrown error carrying stderr. */
async function dockerCli(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('docker', [...args], {
    timeout: timeoutMs,
    maxBuffer: 16 << 20,
  });
  return stdout;
}

function errorText(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  if (typeof stderr === 'string' && stderr.trim() !== '') return stderr.trim();
  return error instanceof Error ? error.message : String(error);
}

async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await delay(POLL_MS);
  }
}

/** Removes containers a few at a time: many removals at once can deadlock Debian's engine. */
async function removeAll(ids: readonly string[]): Promise<void> {
  const client = docker();
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
        await removeContainerIfPresent(client, id);
      }
    }),
  );
}

function rcManifest(): string {
  return `apiVersion: v1
kind: ReplicationController
metadata:
  name: bench-swarm
spec:
  replicas: ${REPLICAS}
  selector:
    app: bench-swarm
  template:
    metadata:
      labels:
        app: bench-swarm
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${TEST_IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sleep", "3600"]
`;
}

interface Timed {
  readonly ms: number;
}

interface Unavailable {
  readonly reason: string;
}

/** The built command; builds dist/ first when it is missing. */
function ensureBuilt(): void {
  if (existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
}

async function berthApply(): Promise<Timed | Unavailable> {
  ensureBuilt();
  const node = `bench-swarm-node-${process.pid}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-swarm-'));
  const source = path.join(dir, 'source');
  const dataDir = path.join(dir, 'data');
  const leftovers = async (): Promise<string[]> =>
    (
      await docker().listContainers({
        all: true,
        filters: { label: [LABELS.podName, `${LABELS.node}=${node}`] },
      })
    ).map((c) => c.Id);
  try {
    mkdirSync(source);
    writeFileSync(path.join(source, 'rc.yaml'), rcManifest());
    const args = [
      BIN,
      'apply',
      source,
      '--data-dir',
      dataDir,
      '--node-name',
      node,
      '--timeout',
      '5m',
    ];
    const start = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += String(chunk);
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const elapsed = performance.now() - start;
    if (code !== 0) return { reason: `berth apply exited ${code}: ${output.trim().slice(-400)}` };
    const running = (
      await docker().listContainers({
        filters: { label: [`${LABELS.node}=${node}`, `${LABELS.role}=container`] },
      })
    ).length;
    if (running !== REPLICAS) {
      return { reason: `berth apply exited 0 with ${running} of ${REPLICAS} containers running` };
    }
    return { ms: elapsed };
  } finally {
    await removeAll(await leftovers());
    rmSync(dir, { recursive: true, force: true });
  }
}

async function swarmState(): Promise<string> {
  return (await dockerCli(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim();
}

async function stackContainers(stack: string): Promise<string[]> {
  const out = await dockerCli([
    'ps',
    '-aq',
    '--filter',
    `label=com.docker.stack.namespace=${stack}`,
  ]);
  return out.split('\n').filter((line) => line !== '');
}

async function swarmDeploy(): Promise<Timed | Unavailable> {
  let before: string;
  try {
    before = await swarmState();
  } catch (error) {
    return { reason: `docker info failed: ${errorText(error)}` };
  }
  if (before !== 'inactive' && before !== 'active') {
    return { reason: `the engine's swarm state is "${before}"` };
  }
  let made = false;
  const hadGatewayBridge =
    (await dockerCli(['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$'])).trim() !== '';
  if (before === 'inactive') {
    try {
      await dockerCli(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
      made = true;
    } catch (error) {
      return { reason: `docker swarm init failed: ${errorText(error)}` };
    }
  }
  const stack = `berth-bench-${process.pid}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-stack-'));
  const composeFile = path.join(dir, 'stack.yml');
  writeFileSync(
    composeFile,
    `version: "3.8"
services:
  main:
    image: ${TEST_IMAGE}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy:
      replicas: ${REPLICAS}
`,
  );
  let deployed = false;
  try {
    const runningTasks = async (): Promise<number> => {
      const out = await dockerCli([
        'service',
        'ps',
        `${stack}_main`,
        '--filter',
        'desired-state=running',
        '--format',
        '{{.CurrentState}}',
      ]);
      return out.split('\n').filter((line) => line.startsWith('Running')).length;
    };
    const start = performance.now();
    try {
      await dockerCli(['stack', 'deploy', '--resolve-image', 'never', '-c', composeFile, stack]);
      deployed = true;
    } catch (error) {
      return { reason: `docker stack deploy failed: ${errorText(error)}` };
    }
    try {
      await until(`${REPLICAS} swarm tasks running`, async () => {
        return (await runningTasks()) >= REPLICAS;
      });
    } catch (error) {
      return { reason: `${errorText(error)} (${await runningTasks().catch(() => 0)} running)` };
    }
    return { ms: performance.now() - start };
  } finally {
    if (deployed) {
      await dockerCli(['stack', 'rm', stack]).catch(() => undefined);
      await until('the stack containers to go', async () => {
        return (await stackContainers(stack)).length === 0;
      }).catch(async () => removeAll(await stackContainers(stack)));
    }
    if (made) {
      await dockerCli(['swarm', 'leave', '--force']).catch(() => undefined);
      // swarm init made docker_gwbridge and leave keeps it; Docker sometimes still counts a
      // gone ingress endpoint on it (moby/moby#37018), and then it stays: best effort.
      if (!hadGatewayBridge) {
        await dockerCli(['network', 'rm', 'docker_gwbridge']).catch(() => undefined);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchSwarm(): Promise<Verdict[]> {
  const client = docker();
  await ensureTestImage(client);
  // berth's pods need the sandbox image; import it now so apply does not pay for it.
  await createDockerRuntime().ensurePauseImage();

  const swarm = await swarmDeploy();
  const berth = await berthApply();

  const shown = (result: Timed | Unavailable): string =>
    'ms' in result ? ms(result.ms) : `unavailable (${result.reason})`;
  const ratio = 'ms' in berth && 'ms' in swarm ? berth.ms / swarm.ms : undefined;
  const verdicts: Verdict[] = [
    {
      name: `converge an RC of ${REPLICAS} replicas on one node: berth apply vs docker stack deploy`,
      figure:
        ratio === undefined
          ? `berth ${shown(berth)}, Swarm ${shown(swarm)}`
          : `berth ${shown(berth)} = ${ratio.toFixed(2)}x Swarm (${shown(swarm)} until ${REPLICAS} tasks Running)`,
      target: '<= 0.5x Swarm',
      met: ratio !== undefined && ratio <= 0.5,
    },
  ];
  printVerdicts('berth apply against Docker Swarm', verdicts);
  return verdicts;
}
