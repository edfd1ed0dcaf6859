/**
 * The Guestbook end to end, as a user runs it: a copy of guestbook/ pushed with the real `git`
 * to the built `berth serve` (its local agent on the real Docker Engine), the locally built
 * `redis:7.0` and `berth/guestbook-frontend:1` images, entries written and read over HTTP
 * through the frontend's NodePort on 127.0.0.1:30080. Then, each a pushed commit or a hand on
 * Docker: a scale-up, a container removed behind berth's back, an image rollout read through
 * the node port all along, and the switch to finding redis through environment variables.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImages } from '../../images/build.js';
import { REPO_ROOT } from '../helpers/run-berth.js';
import { waitFor } from '../helpers/wait.js';
import {
  commitEdit,
  dockerExec,
  type E2ePod,
  hasLabels,
  pushRepo,
  repoFromDirectory,
  type Serve,
  startServe,
  watchOtherBerthAgents,
} from './harness.js';

const run = promisify(execFile);

const APP = 'guestbook';
const NODE_PORT = 30080;
const FRONTEND_IMAGE = 'berth/guestbook-frontend:1';
const FRONTEND_IMAGE_NEXT = 'berth/guestbook-frontend:2';
const FRONTEND = { app: 'guestbook', tier: 'frontend' } as const;
const MASTER = { app: 'redis', role: 'master' } as const;
const REPLICA = { app: 'redis', role: 'replica' } as const;
/** Long waits: the first start of redis and PHP on a busy engine takes a while. */
const WAIT_MS = 180_000;

let serve: Serve | undefined;
let repo = '';
/** Whether this file made the :2 tag (and so removes it after). */
let taggedNext = false;
/** What the guestbook holds now, as the last successful write left it. */
let entries = '';
const timings: Record<string, number> = {};

function live(): Serve {
  if (serve === undefined) throw new Error('berth serve did not start');
  return serve;
}

async function timed<T>(step: string, body: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await body();
  } finally {
    timings[step] = Date.now() - started;
    console.log(`guestbook e2e: ${step}: ${timings[step]} ms`);
  }
}

// --- HTTP through the node port --------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly body: string;
}

/**
 * One GET on a fresh connection (no keep-alive: every request is a new connection, so the node
 * port's rules pick a frontend for each, as a browser's new visitor would get).
 */
function get(pathAndQuery: string, timeoutMs = 5_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      {
        host: '127.0.0.1',
        port: NODE_PORT,
        path: pathAndQuery,
        agent: false,
        headers: { connection: 'close' },
        timeout: timeoutMs,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

function guestbookUrl(cmd: 'get' | 'set', value?: string): string {
  const query = new URLSearchParams({ cmd, key: 'messages' });
  if (value !== undefined) query.set('value', value);
  return `/guestbook.php?${query.toString()}`;
}

/** The entries the frontend reads (from the replica service); throws on anything else. */
async function readEntries(): Promise<string> {
  const answer = await get(guestbookUrl('get'));
  if (answer.status !== 200) throw new Error(`cmd=get: HTTP ${answer.status} ${answer.body}`);
  const parsed = JSON.parse(answer.body) as { data?: unknown };
  if (typeof parsed.data !== 'string') throw new Error(`cmd=get: no data in ${answer.body}`);
  return parsed.data;
}

/** Writes the whole list (to the master service), as the page does. */
async function writeEntries(value: string): Promise<void> {
  const answer = await get(guestbookUrl('set', value));
  expect(answer.status, answer.body).toBe(200);
  expect(JSON.parse(answer.body)).toEqual({ message: 'Updated' });
  entries = value;
}

/** Waits until a read through the node port gives `value` (replication is asynchronous). */
function readBack(value: string, timeoutMs = 30_000): Promise<string> {
  return waitFor(
    async () => {
      try {
        const data = await readEntries();
        return data === value ? data : undefined;
      } catch {
        return undefined;
      }
    },
    `the frontend to read ${JSON.stringify(value)}`,
    timeoutMs,
  );
}

// --- pods and containers -----------------------------------------------------------------------

async function podsWith(selector: Readonly<Record<string, string>>): Promise<E2ePod[]> {
  return (await live().pods()).filter((pod) => hasLabels(pod, selector));
}

/** Waits until exactly `count` pods match and are ready (and pass `also`); returns them. */
function readyPods(
  selector: Readonly<Record<string, string>>,
  count: number,
  also: (pod: E2ePod) => boolean = () => true,
): Promise<E2ePod[]> {
  let last: E2ePod[] = [];
  return waitFor(
    async () => {
      last = await podsWith(selector);
      return last.length === count && last.every((pod) => pod.ready && also(pod))
        ? last
        : undefined;
    },
    `${count} ready pods with ${JSON.stringify(selector)}`,
    WAIT_MS,
  ).catch((error: unknown) => {
    const seen = last.map((p) => ({
      name: p.name,
      ready: p.ready,
      phase: p.phase,
      images: p.images,
    }));
    throw new Error(
      `${(error as Error).message}\npods: ${JSON.stringify(seen)}\nserve stderr: ${live().output().stderr.slice(-4000)}`,
    );
  });
}

/** The running container of `pod` named `container` on the serve's node. */
async function runningContainer(pod: string, container: string): Promise<string | undefined> {
  const list = await live().containers();
  return list.find(
    (c) =>
      c.pod === pod && c.container === container && c.role === 'container' && c.state === 'running',
  )?.id;
}

async function inspectEnv(id: string): Promise<Map<string, string>> {
  const { stdout } = await run('docker', ['inspect', '--format', '{{json .Config.Env}}', id]);
  const env = new Map<string, string>();
  for (const entry of JSON.parse(stdout) as string[]) {
    const at = entry.indexOf('=');
    env.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return env;
}

async function imageExists(name: string): Promise<boolean> {
  try {
    await run('docker', ['image', 'inspect', name]);
    return true;
  } catch {
    return false;
  }
}

// --- setup -------------------------------------------------------------------------------------

beforeAll(async () => {
  // Built from Debian packages the first time (minutes); an inspect each when present.
  await timed('images', () => ensureImages(['redis:7.0', FRONTEND_IMAGE]));
  serve = await startServe({ name: 'guestbook' });
  // guestbook/ as a user's repository, all of it (its .berthignore leaves the frontend's
  // source out of the manifests).
  const source = path.join(REPO_ROOT, 'guestbook');
  repo = (await repoFromDirectory(source, path.join(live().dir, 'guestbook'), 'guestbook')).dir;
}, 900_000);

afterAll(async () => {
  try {
    await serve?.stop();
  } finally {
    if (taggedNext) await run('docker', ['rmi', FRONTEND_IMAGE_NEXT]).catch(() => {});
    console.log(`guestbook e2e timings (ms): ${JSON.stringify(timings)}`);
  }
}, 180_000);

// --- the steps, in order: each builds on the one before ----------------------------------------

describe('the Guestbook on berth serve, pushed with git', () => {
  it('runs after a git push: 1 redis master, 2 replicas, 3 frontends, all ready', async () => {
    await timed('push to all ready', async () => {
      const commit = (await run('git', ['rev-parse', 'HEAD'], { cwd: repo })).stdout.trim();
      const pushed = await pushRepo(repo, live().remote(APP));
      expect(pushed.stderr).toContain(`remote: berth: app ${APP} created, tracking main`);
      await live().waitForApp(APP, { commit, timeoutMs: WAIT_MS });
      await readyPods(MASTER, 1);
      await readyPods(REPLICA, 2);
      await readyPods(FRONTEND, 3);
    });
    // Both halves of the node's service host run (a line would say why not, e.g. port 53 taken).
    expect(live().output().stderr).not.toMatch(/services: no (service proxy|cluster DNS)/);
  }, 600_000);

  it('stores an entry through the node port and reads it back from the replicas', async () => {
    await timed('set and read back', async () => {
      // The first answer may take until the node port's rules and DNS have the new services.
      await waitFor(
        () =>
          readEntries().then(
            () => true,
            () => false,
          ),
        'the frontend answering cmd=get on the node port',
        60_000,
      );
      const value = `hello from berth ${Date.now()}`;
      await writeEntries(value);
      // The frontend reads from the replica service: the entry came through replication.
      await readBack(value);
      for (const replica of await readyPods(REPLICA, 2)) {
        const id = await waitFor(
          () => runningContainer(replica.name, 'replica'),
          `the replica container of ${replica.name}`,
        );
        await waitFor(
          async () => (await dockerExec(id, ['redis-cli', 'get', 'messages'])).trim() === value,
          `${replica.name} to hold the entry`,
        );
      }
    });
  }, 120_000);

  it('scales the frontend from 3 to 5 with a pushed commit', async () => {
    await timed('scale to 5', async () => {
      const commit = await commitEdit(
        repo,
        'frontend-controller.yaml',
        (text) => text.replace(/^ {2}replicas: 3$/m, '  replicas: 5'),
        'frontend: 5 replicas',
      );
      await pushRepo(repo, live().remote(APP));
      await live().waitForApp(APP, { commit, timeoutMs: WAIT_MS });
      await readyPods(FRONTEND, 5);
    });
    expect(await readEntries()).toBe(entries);
  }, 300_000);

  it('heals a frontend container removed with docker rm -f', async () => {
    await timed('heal a removed container', async () => {
      const victim = (await readyPods(FRONTEND, 5))[0]!;
      const before = await waitFor(
        () => runningContainer(victim.name, 'frontend'),
        `the container of ${victim.name}`,
      );
      await run('docker', ['rm', '-f', before]);
      const after = await waitFor(
        async () => {
          const id = await runningContainer(victim.name, 'frontend');
          return id !== undefined && id !== before ? id : undefined;
        },
        `a new running container for ${victim.name}`,
        WAIT_MS,
      );
      // Ready again, as reported for the new container (not a report from before the removal).
      await readyPods(
        FRONTEND,
        5,
        (pod) => pod.name !== victim.name || pod.containerIDs.includes(`docker://${after}`),
      );
    });
    await readBack(entries);
  }, 300_000);

  it('rolls a new image out one pod at a time while every read through the node port succeeds', async () => {
    await run('docker', ['tag', FRONTEND_IMAGE, FRONTEND_IMAGE_NEXT]);
    taggedNext = true;
    expect(await imageExists(FRONTEND_IMAGE_NEXT)).toBe(true);
    const replicas = 5;
    await readyPods(FRONTEND, replicas);

    // A reader, as visitors keep reading during the rollout: one connection after the other.
    const reads: { ok: boolean; detail: string }[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        try {
          const data = await readEntries();
          reads.push({ ok: data === entries, detail: data });
        } catch (error) {
          reads.push({ ok: false, detail: (error as Error).message });
        }
      }
    })();

    interface Sample {
      readonly ready: number;
      readonly total: number;
      readonly next: number;
    }
    const samples: Sample[] = [];
    // Another berth agent on this machine rewrites the node port's rules: worth knowing.
    const others = watchOtherBerthAgents(live().child.pid);
    let othersSeen: string[] = [];
    try {
      await timed('image rollout', async () => {
        const commit = await commitEdit(
          repo,
          'frontend-controller.yaml',
          (text) => text.replace(`image: ${FRONTEND_IMAGE}`, `image: ${FRONTEND_IMAGE_NEXT}`),
          'frontend: image 2',
        );
        await pushRepo(repo, live().remote(APP));
        // Sampled back to back: each sample is one readout from the operator.
        const deadline = Date.now() + WAIT_MS;
        for (;;) {
          const pods = await podsWith(FRONTEND);
          const sample = {
            ready: pods.filter((p) => p.ready).length,
            total: pods.length,
            next: pods.filter((p) => p.images.includes(FRONTEND_IMAGE_NEXT)).length,
          };
          samples.push(sample);
          const status = await live().app(APP);
          if (
            status.lastApplied?.commit === commit &&
            sample.total === replicas &&
            sample.next === replicas &&
            sample.ready === replicas
          ) {
            break;
          }
          if (Date.now() > deadline) {
            throw new Error(
              `rollout not done in ${WAIT_MS} ms; last sample ${JSON.stringify(sample)}\nserve stderr: ${live().output().stderr.slice(-4000)}`,
            );
          }
        }
      });
    } finally {
      reading = false;
      await reader;
      othersSeen = await others.stop();
    }

    // One at a time: never fewer than replicas - 1 ready, never more than one extra pod.
    const fewest = Math.min(...samples.map((s) => s.ready));
    expect(fewest, JSON.stringify(samples.slice(0, 200))).toBeGreaterThanOrEqual(replicas - 1);
    expect(Math.max(...samples.map((s) => s.total))).toBeLessThanOrEqual(replicas + 1);
    // The samples saw the rollout itself, not only its end.
    expect(samples.some((s) => s.next > 0 && s.next < replicas)).toBe(true);
    // Every frontend container runs the new image (once the last old one is torn down).
    await waitFor(
      async () => {
        const running = (await live().containers()).filter(
          (c) => c.role === 'container' && c.container === 'frontend' && c.state === 'running',
        );
        return running.length === replicas && running.every((c) => c.image === FRONTEND_IMAGE_NEXT);
      },
      `${replicas} running frontend containers, all of ${FRONTEND_IMAGE_NEXT}`,
      60_000,
    );

    // Every read during the rollout answered with the entries.
    const failed = reads.filter((r) => !r.ok);
    console.log(
      `guestbook e2e: rollout: fewest ready ${fewest}, most pods ${Math.max(...samples.map((x) => x.total))}`,
    );
    console.log(
      `guestbook e2e: rollout: ${samples.length} samples, ${reads.length} reads, ${failed.length} failed`,
    );
    expect(reads.length).toBeGreaterThan(10);
    expect(
      failed,
      `${JSON.stringify(failed.slice(0, 10))}\nother berth agents during the rollout: ${JSON.stringify(othersSeen)}`,
    ).toEqual([]);
  }, 600_000);

  it('finds redis through environment variables after a commit switches GET_HOSTS_FROM to env', async () => {
    const replicas = 5;
    await timed('switch to env', async () => {
      const commit = await commitEdit(
        repo,
        'frontend-controller.yaml',
        (text) => text.replace(/(name: GET_HOSTS_FROM\s+value:) dns/, '$1 env'),
        'frontend: find redis by environment',
      );
      await pushRepo(repo, live().remote(APP));
      await live().waitForApp(APP, { commit, timeoutMs: WAIT_MS });
      await readyPods(FRONTEND, replicas, (pod) =>
        pod.pod.spec.containers.some((c) =>
          (c.env ?? []).some((e) => e.name === 'GET_HOSTS_FROM' && e.value === 'env'),
        ),
      );
    });

    // The re-created pods carry the services' variables (the services existed before them).
    const services = (await live().readout()).services ?? [];
    const clusterIp = (name: string): string | undefined =>
      services.find((s) => s.name === name && s.namespace === 'default')?.clusterIP;
    const masterIp = clusterIp('redis-master');
    const replicaIp = clusterIp('redis-replica');
    expect(masterIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(replicaIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const pod of await podsWith(FRONTEND)) {
      const id = await waitFor(
        () => runningContainer(pod.name, 'frontend'),
        `the container of ${pod.name}`,
      );
      const env = await inspectEnv(id);
      expect(env.get('GET_HOSTS_FROM'), pod.name).toBe('env');
      expect(env.get('REDIS_MASTER_SERVICE_HOST'), pod.name).toBe(masterIp);
      expect(env.get('REDIS_MASTER_SERVICE_PORT'), pod.name).toBe('6379');
      expect(env.get('REDIS_REPLICA_SERVICE_HOST'), pod.name).toBe(replicaIp);
      expect(env.get('REDIS_REPLICA_SERVICE_PORT'), pod.name).toBe('6379');
    }

    await readBack(entries);
    const value = `${entries},written with env hosts`;
    await writeEntries(value);
    await readBack(value);
  }, 600_000);
});
