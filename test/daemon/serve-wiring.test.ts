/**
 * `berth serve`'s daemon parts on one HTTP server, without Docker (a container-less local
 * agent): an app from the config file fetched from a real smart-HTTP git server on 127.0.0.1,
 * woken by a signed webhook (a bad signature is 401 and wakes nothing), a config file that
 * turns invalid (reported with file:line:col, the running apps stay), and `/git/` routed to
 * berth's git host.
 */
import { createHmac } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OperatorServer, startOperatorServer } from '../../operator/operator/server.js';
import { FakeNodeAgent } from '../agent/fake-node-agent.js';
import { type GitHttpServer, startGitHttpServer } from '../helpers/git-http-server.js';
import { commitFiles, git, initRepo, podYaml } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }
}

const SECRET = 'a long and random webhook secret';

let dir: string;
let gitHost: GitHttpServer;
let server: OperatorServer | undefined;
let logged: string[];

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-serve-wiring-'));
  gitHost = await startGitHttpServer(path.join(dir, 'hosted'));
  logged = [];
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await gitHost.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

function configText(url: string, interval = '1h'): string {
  return `apps:
  - name: shop
    source: ${url}
    ref: main
    interval: ${interval}
webhook:
  secret: ${SECRET}
`;
}

async function postWebhook(
  url: string,
  body: string,
  signature: string,
): Promise<{ status: number }> {
  const response = await fetch(`${url}/api/v1/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': 'd-1',
      'x-hub-signature-256': signature,
    },
    body,
  });
  await response.text();
  return { status: response.status };
}

describe('berth serve: config apps, webhooks and the git route', () => {
  it('syncs a config app, wakes it on a signed webhook only, and keeps it through a bad config', async () => {
    const work = initRepo(path.join(dir, 'work'));
    const bare = path.join(dir, 'hosted', 'shop.git');
    git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
    const first = commitFiles(work, { 'a.yaml': podYaml('a') }, 'a');
    git(work, 'push', '-q', bare, 'main');

    const configFile = path.join(dir, 'berth.yaml');
    const repoUrl = gitHost.url('shop.git');
    await fsp.writeFile(configFile, configText(repoUrl));
    server = await startOperatorServer({
      dataDir: path.join(dir, 'operator'),
      listen: { host: '127.0.0.1', port: 0 },
      nodeName: 'local',
      createAgent: async () => new FakeLocalAgent(),
      configFile,
      log: (line) => logged.push(line),
    });
    const running = server;
    await waitFor(
      () => running.apps.status('shop')?.lastApplied?.commit === first,
      `the config app synced (log: ${logged.join(' | ')})`,
    );
    expect(running.operator.store.inventory('shop').map((e) => e.key)).toEqual(['Pod/default/a']);

    const second = commitFiles(work, { 'b.yaml': podYaml('b') }, 'b');
    git(work, 'push', '-q', bare, 'main');
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: second,
      repository: { clone_url: repoUrl, html_url: repoUrl, default_branch: 'main' },
    });

    // A bad signature: 401, a log line, and no fetch.
    await running.apps.idle();
    const fetchesBefore = gitHost.requests;
    const bad = await postWebhook(running.url, body, `sha256=${'0'.repeat(64)}`);
    expect(bad.status).toBe(401);
    await running.apps.idle();
    expect(gitHost.requests).toBe(fetchesBefore);
    expect(running.apps.status('shop')?.lastApplied?.commit).toBe(first);
    expect(logged.some((line) => line.startsWith('webhook: refused a delivery'))).toBe(true);
    expect(logged.join('\n')).not.toContain(SECRET);

    // A good one: the app is fetched and synced at once (its interval is an hour).
    const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const good = await postWebhook(running.url, body, signature);
    expect(good.status).toBe(202);
    await waitFor(
      () => running.apps.status('shop')?.lastApplied?.commit === second,
      'the webhook synced the new commit',
    );
    expect(running.apps.status('shop')).toMatchObject({
      sync: 'Synced',
      lastApplied: { commit: second, message: 'b' },
    });
    expect(running.operator.store.inventory('shop').map((e) => e.key)).toEqual([
      'Pod/default/a',
      'Pod/default/b',
    ]);

    // A config file with a problem: reported with file:line:col, the app stays.
    await fsp.writeFile(configFile, configText(repoUrl, '6x'));
    const reported = await waitFor(
      () => logged.find((line) => line.includes(`${configFile}:5:`)),
      'the config problem in the log',
    );
    expect(reported).toContain('interval');
    expect(running.apps.apps().map((app) => app.name)).toEqual(['shop']);

    // /git/ is berth's git host: an app nobody pushed is not there.
    const refs = await fetch(`${running.url}/git/nothing.git/info/refs?service=git-upload-pack`);
    expect(refs.status).toBe(404);
    expect(await refs.text()).toContain('no app named nothing');
  });
});
