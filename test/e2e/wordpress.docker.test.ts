/**
 * WordPress end to end, as a user runs it: a copy of wordpress/ pushed with the real `git` to
 * the built `berth serve` on the real Docker Engine, the images built locally from Debian
 * packages (mariadb:10.11, wordpress:6.1-apache). Through the NodePort on 127.0.0.1:30081 the
 * test completes WordPress's installation over HTTP, publishes a post over XML-RPC and reads it
 * on the site; then a pushed commit changes the database pod's spec, so berth deletes that pod
 * (sandbox and container) and creates it anew on the same hostPath directory: the post is still
 * there, read through WordPress again.
 */

import { promises as fsp } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMap, isSeq, parseAllDocuments, type YAMLMap } from 'yaml';
import { ensureImages } from '../../images/build.js';
import { docker, dockerStatusCode } from '../helpers/docker.js';
import { git } from '../helpers/git-repo.js';
import { REPO_ROOT } from '../helpers/run-berth.js';
import { waitFor } from '../helpers/wait.js';
import {
  type E2ePod,
  hasLabels,
  pushRepo,
  repoFromDirectory,
  type Serve,
  startServe,
} from './harness.js';

const APP = 'wordpress';
const SITE = 'http://127.0.0.1:30081';
const MYSQL = { app: 'wordpress', tier: 'mysql' };
const FRONTEND = { app: 'wordpress', tier: 'frontend' };
const ADMIN = { user: 'admin', password: 'e2e-admin-password', email: 'admin@example.invalid' };
const POST_TITLE = 'Written before the database pod was replaced';
const POST_BODY = 'This post lives in MariaDB, on the hostPath of the mysql pod.';

let serve: Serve | undefined;
let dataDir = '';

// --- HTTP ------------------------------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One HTTP request on a fresh connection (no pooling: a connection must never outlive the
 * pod that answered it), with a deadline; rejects on network errors and timeouts.
 */
function request(
  method: string,
  url: string,
  options: { body?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          connection: 'close',
          ...(options.body === undefined
            ? {}
            : { 'content-length': String(Buffer.byteLength(options.body)) }),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in time`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** What an answer (or a failed request) looks like in a failure message: short. */
function describeAnswer(answer: Answer | Error | undefined): string {
  if (answer === undefined) return 'nothing yet';
  if (answer instanceof Error) return answer.message;
  const text = answer.body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return `HTTP ${answer.status}: ${text.slice(0, 300)}`;
}

/**
 * Requests until `accept` takes an answer or the deadline passes (WordPress answers 500
 * "Error establishing a database connection" while the database restarts; the node port
 * refuses until the proxy rules exist); fails with the last answer seen.
 */
async function requestUntil(
  what: string,
  send: () => Promise<Answer>,
  accept: (answer: Answer) => boolean,
  timeoutMs: number,
): Promise<Answer> {
  let last: Answer | Error | undefined;
  try {
    return await waitFor(
      async () => {
        try {
          last = await send();
        } catch (error) {
          last = error as Error;
          return undefined;
        }
        return accept(last) ? last : undefined;
      },
      what,
      timeoutMs,
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\nlast answer: ${describeAnswer(last)}\nserve stderr (tail): ${serve?.output().stderr.slice(-3000)}`,
    );
  }
}

function form(fields: Readonly<Record<string, string>>): string {
  return new URLSearchParams(fields).toString();
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `wp.newPost` (blog 1, the admin's credentials, a published post): the XML-RPC call. */
function newPostCall(title: string, content: string): string {
  const member = (name: string, value: string) =>
    `<member><name>${name}</name><value><string>${xmlEscape(value)}</string></value></member>`;
  return [
    '<?xml version="1.0"?>',
    '<methodCall><methodName>wp.newPost</methodName><params>',
    '<param><value><int>1</int></value></param>',
    `<param><value><string>${xmlEscape(ADMIN.user)}</string></value></param>`,
    `<param><value><string>${xmlEscape(ADMIN.password)}</string></value></param>`,
    '<param><value><struct>',
    member('post_type', 'post'),
    member('post_status', 'publish'),
    member('post_title', title),
    member('post_content', content),
    '</struct></value></param>',
    '</params></methodCall>',
  ].join('');
}

// --- the repository ----------------------------------------------------------------------------

/** Every object mapping of a manifest file: top-level documents and the items of a `List`. */
function objectsOf(text: string): {
  docs: ReturnType<typeof parseAllDocuments>;
  objects: YAMLMap[];
} {
  const docs = parseAllDocuments(text);
  const objects: YAMLMap[] = [];
  for (const doc of docs) {
    if (!isMap(doc.contents)) continue;
    const top = doc.contents;
    const items = top.get('items');
    if (top.getIn(['kind']) === 'List' && isSeq(items)) {
      for (const item of items.items) if (isMap(item)) objects.push(item);
    } else {
      objects.push(top);
    }
  }
  return { docs, objects };
}

function isMysqlPod(object: YAMLMap): boolean {
  return object.getIn(['kind']) === 'Pod' && object.getIn(['metadata', 'name']) === 'mysql';
}

/**
 * Rewrites the mysql pod in the repository's manifests (whichever file, plain or a `List`)
 * with `edit`; fails unless exactly one pod named mysql was found and the edit returned true.
 */
async function editMysqlPod(repo: string, edit: (pod: YAMLMap) => boolean): Promise<string> {
  const names = (await fsp.readdir(repo)).filter((name) => /\.ya?ml$/.test(name));
  const edited: string[] = [];
  for (const name of names) {
    const file = path.join(repo, name);
    const { docs, objects } = objectsOf(await fsp.readFile(file, 'utf8'));
    const pods = objects.filter(isMysqlPod);
    if (pods.length === 0) continue;
    for (const pod of pods) {
      if (!edit(pod)) throw new Error(`the edit of the mysql pod in ${name} changed nothing`);
    }
    await fsp.writeFile(file, docs.map((doc) => doc.toString()).join(''));
    edited.push(name);
  }
  if (edited.length !== 1) throw new Error(`mysql pod edited in ${JSON.stringify(edited)}`);
  return edited[0]!;
}

// --- pods --------------------------------------------------------------------------------------

async function podOf(selector: Readonly<Record<string, string>>): Promise<E2ePod | undefined> {
  const pods = (await serve!.pods()).filter((pod) => hasLabels(pod, selector));
  return pods.length === 1 ? pods[0] : undefined;
}

async function containerGone(id: string): Promise<boolean> {
  try {
    const found = await docker().getContainer(id).inspect();
    console.log(
      `wordpress e2e: ${id.slice(0, 12)} ${found.State.Status} ${JSON.stringify(found.Config.Labels)}`,
    );
    return false;
  } catch (error) {
    if (dockerStatusCode(error) === 404) return true;
    throw error;
  }
}

/** Docker ids of the mysql pod's containers (sandbox included), from the node's containers. */
async function mysqlContainerIds(podUid: string): Promise<string[]> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`io.berth.node=${serve!.node}`, `io.berth.pod.uid=${podUid}`] },
  });
  return list.map((c) => c.Id);
}

// --- setup -------------------------------------------------------------------------------------

beforeAll(async () => {
  // Cold, the two images are built from Debian packages (minutes); present, this is a look-up.
  await ensureImages(['mariadb:10.11', 'wordpress:6.1-apache']);
  serve = await startServe({ name: 'wp-e2e' });
  // Below serve's temp dir, so stop() removes it with the rest.
  dataDir = path.join(serve.dir, 'mysql-data');
}, 30 * 60_000);

afterAll(async () => {
  // Stops serve, removes every container of its node, then its temp dir (the data dir too).
  await serve?.stop();
}, 120_000);

// --- the test ----------------------------------------------------------------------------------

describe('WordPress on berth', () => {
  it('installs over HTTP, publishes a post, and keeps it when the database pod is replaced', async () => {
    const times: Record<string, number> = {};
    let mark = Date.now();
    const lap = (step: string) => {
      times[step] = Date.now() - mark;
      mark = Date.now();
      console.log(`wordpress e2e: ${step}: ${times[step]} ms`);
    };

    // The repository as shipped, except the mysql data's hostPath: a temp dir of this test's,
    // so a run neither finds an earlier run's database nor leaves one in /var/lib.
    const repo = (
      await repoFromDirectory(path.join(REPO_ROOT, 'wordpress'), path.join(serve!.dir, 'repo'))
    ).dir;
    let shippedPath: unknown;
    await editMysqlPod(repo, (pod) => {
      const volumes = pod.getIn(['spec', 'volumes']);
      if (!isSeq(volumes)) return false;
      const hostPaths = volumes.items.filter((v) => isMap(v) && v.has('hostPath')) as YAMLMap[];
      if (hostPaths.length !== 1) return false;
      shippedPath = hostPaths[0]!.getIn(['hostPath', 'path']);
      hostPaths[0]!.setIn(['hostPath', 'path'], dataDir);
      return true;
    });
    expect(shippedPath).toMatch(/^\/var\/lib\//);
    git(repo, 'commit', '-q', '-a', '-m', 'mysql data in a temp dir');
    const first = git(repo, 'rev-parse', 'HEAD');

    // 1. The push makes the app; both pods run and are ready.
    const pushed = await pushRepo(repo, serve!.remote(APP));
    expect(pushed.stderr).toContain(`remote: berth: app ${APP} created`);
    await serve!.waitForApp(APP, { commit: first, timeoutMs: 180_000 });
    const mysql = await waitFor(async () => {
      const pod = await podOf(MYSQL);
      return pod?.ready === true ? pod : undefined;
    }, 'the mysql pod ready');
    expect((await podOf(FRONTEND))?.ready).toBe(true);
    lap('push to Synced/Healthy');

    // 2. The install page answers through the node port.
    const installPage = await requestUntil(
      'the install page through the node port',
      () => request('GET', `${SITE}/wp-admin/install.php`),
      (answer) => answer.status === 200,
      120_000,
    );
    expect(installPage.body).toContain('name="weblog_title"');
    expect(installPage.body).toContain('name="admin_password"');

    // 3. The installation, completed over HTTP as the form would post it.
    const installed = await request('POST', `${SITE}/wp-admin/install.php?step=2`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        weblog_title: 'berth e2e',
        user_name: ADMIN.user,
        admin_password: ADMIN.password,
        admin_password2: ADMIN.password,
        pw_weak: '1',
        admin_email: ADMIN.email,
        blog_public: '0',
        Submit: 'Install WordPress',
        language: '',
      }),
      timeoutMs: 120_000,
    });
    expect(installed.status, describeAnswer(installed)).toBe(200);
    expect(installed.body).toContain('Success!');
    const again = await request('GET', `${SITE}/wp-admin/install.php`);
    expect(again.body).toContain('Already Installed');
    lap('install');

    // 4. A post, published over XML-RPC with the admin's credentials.
    const created = await request('POST', `${SITE}/xmlrpc.php`, {
      headers: { 'content-type': 'text/xml' },
      body: newPostCall(POST_TITLE, POST_BODY),
      timeoutMs: 60_000,
    });
    expect(created.status, describeAnswer(created)).toBe(200);
    expect(created.body).not.toContain('<fault>');
    const postId = /<string>(\d+)<\/string>/.exec(created.body)?.[1];
    expect(postId, created.body).toMatch(/^\d+$/);

    // 5. Read back on the site: the post's page and the front page list it.
    const post = await request('GET', `${SITE}/?p=${postId}`);
    expect(post.status, describeAnswer(post)).toBe(200);
    expect(post.body).toContain(POST_TITLE);
    expect(post.body).toContain(POST_BODY);
    const front = await request('GET', `${SITE}/`);
    expect(front.status, describeAnswer(front)).toBe(200);
    expect(front.body).toContain(POST_TITLE);
    lap('post published and read');
    // The database's files are on the host, in the directory the manifest names.
    expect(await fsp.readdir(dataDir)).toContain('wordpress');

    // 6. A commit that changes the mysql pod's spec: a pod spec cannot change in place, so the
    // sync deletes the pod (its sandbox and container) and creates it anew.
    const oldContainers = await mysqlContainerIds(mysql.pod.metadata!.uid!);
    expect(oldContainers.length).toBeGreaterThanOrEqual(2);
    let grace = 0;
    await editMysqlPod(repo, (pod) => {
      const before = pod.getIn(['spec', 'terminationGracePeriodSeconds']);
      grace = (typeof before === 'number' ? before : 30) + 15;
      pod.setIn(['spec', 'terminationGracePeriodSeconds'], grace);
      return true;
    });
    git(repo, 'commit', '-q', '-a', '-m', `mysql: ${grace} s to shut down`);
    const second = git(repo, 'rev-parse', 'HEAD');
    const replaced = await pushRepo(repo, serve!.remote(APP));
    expect(replaced.stderr).toContain('1 to replace');
    // The new pod (another uid), ready in containers other than the old pod's.
    const oldIds = new Set(oldContainers);
    const mysqlAgain = await waitFor(
      async () => {
        const pod = await podOf(MYSQL);
        if (pod === undefined || pod.pod.metadata?.uid === mysql.pod.metadata?.uid)
          return undefined;
        const ids = pod.containerIDs.map((id) => id.replace(/^docker:\/\//, ''));
        return pod.ready && ids.length > 0 && ids.every((id) => !oldIds.has(id)) ? pod : undefined;
      },
      'a new mysql pod, ready',
      180_000,
    );
    // The old pod's sandbox and container are removed, not just stopped.
    await waitFor(
      async () => (await Promise.all(oldContainers.map(containerGone))).every(Boolean),
      `the old mysql pod's containers removed (${oldContainers.join(', ')})`,
      60_000,
    );
    expect(mysqlAgain.podIP).toBeDefined();
    // The new container has the same host directory as its data dir.
    const newId = mysqlAgain.containerIDs[0]!.replace(/^docker:\/\//, '');
    const mounts = (await docker().getContainer(newId).inspect()).Mounts;
    expect(mounts.find((m) => m.Destination === '/var/lib/mysql')?.Source).toBe(dataDir);
    await serve!.waitForApp(APP, { commit: second, timeoutMs: 180_000 });
    lap('database pod replaced');

    // 7. The post is still there, through WordPress on the node port (the database connection
    // fails for a while as the new mysql starts).
    const after = await requestUntil(
      'the post through WordPress after the database pod was replaced',
      () => request('GET', `${SITE}/?p=${postId}`),
      (answer) => answer.status === 200 && answer.body.includes(POST_TITLE),
      120_000,
    );
    expect(after.body).toContain(POST_BODY);
    const still = await request('GET', `${SITE}/wp-admin/install.php`);
    expect(still.body).toContain('Already Installed');
    lap('post read after the replace');
  }, 900_000);
});
