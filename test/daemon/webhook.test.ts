import { createHmac } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createWebhookHandler,
  matchApps,
  normalizeRepoUrl,
  type PushEvent,
  pushEventOf,
  verifyWebhook,
  type WebhookOutcome,
  type WebhookProvider,
  type WebhookPush,
} from '../../operator/daemon/index.js';

const SECRET = 'It is a long secret, and a good one';
const WRONG = 'another secret altogether';

function hmacHex(body: Buffer, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** The headers a provider sends with `body`, signed with `secret`. */
function signed(provider: WebhookProvider, body: Buffer, secret: string): Record<string, string> {
  switch (provider) {
    case 'github':
      return { 'x-hub-signature-256': `sha256=${hmacHex(body, secret)}` };
    case 'gitlab':
      return { 'x-gitlab-token': secret };
    case 'gitea':
      return { 'x-gitea-signature': hmacHex(body, secret) };
    case 'gogs':
      return { 'x-gogs-signature': hmacHex(body, secret) };
  }
}

const SIGNATURE_HEADER: Record<WebhookProvider, string> = {
  github: 'x-hub-signature-256',
  gitlab: 'x-gitlab-token',
  gitea: 'x-gitea-signature',
  gogs: 'x-gogs-signature',
};

const PROVIDERS: WebhookProvider[] = ['github', 'gitlab', 'gitea', 'gogs'];
const BODY = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40) }));

describe('verifyWebhook', () => {
  for (const provider of PROVIDERS) {
    describe(provider, () => {
      it('accepts a signature made with the secret', () => {
        expect(verifyWebhook(signed(provider, BODY, SECRET), BODY, SECRET)).toEqual({
          ok: true,
          provider,
        });
      });

      it('refuses a signature made with another secret', () => {
        expect(verifyWebhook(signed(provider, BODY, WRONG), BODY, SECRET)).toEqual({
          ok: false,
          reason: 'signature mismatch',
        });
      });

      it('refuses a signature of another body', () => {
        const other = Buffer.from(`${BODY.toString()} `);
        const verdict = verifyWebhook(signed(provider, other, SECRET), BODY, SECRET);
        if (provider === 'gitlab') {
          // GitLab sends the token itself: it does not depend on the body.
          expect(verdict).toEqual({ ok: true, provider });
        } else {
          expect(verdict).toEqual({ ok: false, reason: 'signature mismatch' });
        }
      });

      it('refuses a signature of the wrong length', () => {
        const good = signed(provider, BODY, SECRET)[SIGNATURE_HEADER[provider]]!;
        for (const value of [good.slice(0, -2), `${good}00`, good.slice(0, -1)]) {
          const verdict = verifyWebhook({ [SIGNATURE_HEADER[provider]]: value }, BODY, SECRET);
          expect(verdict.ok).toBe(false);
          if (!verdict.ok) {
            expect(verdict.reason).toBe(
              provider === 'gitlab'
                ? 'signature mismatch'
                : `malformed ${SIGNATURE_HEADER[provider]} header`,
            );
          }
        }
      });

      it('matches header names in any case', () => {
        const headers = Object.fromEntries(
          Object.entries(signed(provider, BODY, SECRET)).map(([k, v]) => [
            k.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()),
            v,
          ]),
        );
        expect(verifyWebhook(headers, BODY, SECRET)).toEqual({ ok: true, provider });
      });
    });
  }

  it('says when there is no signature header', () => {
    expect(verifyWebhook({ 'x-github-event': 'push' }, BODY, SECRET)).toEqual({
      ok: false,
      reason: 'no signature header',
    });
    expect(verifyWebhook({ 'x-hub-signature-256': undefined }, BODY, SECRET)).toEqual({
      ok: false,
      reason: 'no signature header',
    });
  });

  it('refuses GitHub signatures without the sha256= prefix, or with sha1', () => {
    const hex = hmacHex(BODY, SECRET);
    expect(verifyWebhook({ 'x-hub-signature-256': hex }, BODY, SECRET)).toEqual({
      ok: false,
      reason: 'malformed x-hub-signature-256 header',
    });
    const sha1 = createHmac('sha1', SECRET).update(BODY).digest('hex');
    expect(verifyWebhook({ 'x-hub-signature': `sha1=${sha1}` }, BODY, SECRET)).toEqual({
      ok: false,
      reason: 'no signature header',
    });
  });

  it('refuses non-hex signatures of the right length', () => {
    const value = 'z'.repeat(64);
    expect(verifyWebhook({ 'x-gitea-signature': value }, BODY, SECRET)).toEqual({
      ok: false,
      reason: 'malformed x-gitea-signature header',
    });
  });

  it('refuses a header sent twice', () => {
    const good = hmacHex(BODY, SECRET);
    expect(verifyWebhook({ 'x-gogs-signature': [good, good] }, BODY, SECRET)).toEqual({
      ok: false,
      reason: 'several x-gogs-signature headers',
    });
  });

  it('refuses everything when the secret is empty', () => {
    expect(verifyWebhook(signed('github', BODY, ''), BODY, '')).toEqual({
      ok: false,
      reason: 'no webhook secret configured',
    });
    expect(verifyWebhook({ 'x-gitlab-token': '' }, BODY, '')).toEqual({
      ok: false,
      reason: 'no webhook secret configured',
    });
  });

  it('takes Gitea for a Gitea delivery that also carries the GitHub and Gogs headers', () => {
    const headers = {
      ...signed('github', BODY, SECRET),
      ...signed('gogs', BODY, SECRET),
      ...signed('gitea', BODY, SECRET),
    };
    expect(verifyWebhook(headers, BODY, SECRET)).toEqual({ ok: true, provider: 'gitea' });
    // A good GitHub signature does not rescue a bad Gitea one.
    const mixed = { ...signed('github', BODY, SECRET), ...signed('gitea', BODY, WRONG) };
    expect(verifyWebhook(mixed, BODY, SECRET)).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
  });
});

const GITHUB_PUSH = {
  ref: 'refs/heads/main',
  before: '0'.repeat(40),
  after: '1f'.repeat(20),
  repository: {
    name: 'guestbook',
    clone_url: 'https://github.com/org/guestbook.git',
    html_url: 'https://github.com/org/guestbook',
    ssh_url: 'git@github.com:org/guestbook.git',
    default_branch: 'main',
  },
};

const GITLAB_PUSH = {
  object_kind: 'push',
  ref: 'refs/heads/release',
  after: '2e'.repeat(20),
  project: {
    git_http_url: 'https://gitlab.example.test/org/guestbook.git',
    web_url: 'https://gitlab.example.test/org/guestbook',
    git_ssh_url: 'git@gitlab.example.test:org/guestbook.git',
    default_branch: 'main',
  },
};

const GITEA_PUSH = {
  ref: 'refs/heads/main',
  after: '3d'.repeat(20),
  repository: { clone_url: 'https://gitea.example.test/org/guestbook.git' },
};

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

describe('pushEventOf', () => {
  it('reads a GitHub push', () => {
    expect(pushEventOf('github', { 'x-github-event': 'push' }, json(GITHUB_PUSH))).toEqual({
      repoUrls: [
        'https://github.com/org/guestbook.git',
        'https://github.com/org/guestbook',
        'git@github.com:org/guestbook.git',
      ],
      ref: 'refs/heads/main',
      after: '1f'.repeat(20),
      defaultBranch: 'main',
    });
  });

  it('reads a GitHub push sent form-encoded', () => {
    const body = Buffer.from(
      new URLSearchParams({ payload: JSON.stringify(GITHUB_PUSH) }).toString(),
    );
    const event = pushEventOf(
      'github',
      { 'x-github-event': 'push', 'content-type': 'application/x-www-form-urlencoded' },
      body,
    );
    expect(event?.ref).toBe('refs/heads/main');
  });

  it('reads a GitLab push and tag push', () => {
    expect(pushEventOf('gitlab', { 'x-gitlab-event': 'Push Hook' }, json(GITLAB_PUSH))).toEqual({
      repoUrls: [
        'https://gitlab.example.test/org/guestbook.git',
        'https://gitlab.example.test/org/guestbook',
      ],
      ref: 'refs/heads/release',
      after: '2e'.repeat(20),
      defaultBranch: 'main',
    });
    const tag = { ...GITLAB_PUSH, object_kind: 'tag_push', ref: 'refs/tags/v1' };
    expect(pushEventOf('gitlab', { 'x-gitlab-event': 'Tag Push Hook' }, json(tag))?.ref).toBe(
      'refs/tags/v1',
    );
  });

  it('reads Gitea and Gogs pushes', () => {
    for (const [provider, name] of [
      ['gitea', 'x-gitea-event'],
      ['gogs', 'x-gogs-event'],
    ] as const) {
      expect(pushEventOf(provider, { [name]: 'push' }, json(GITEA_PUSH))).toEqual({
        repoUrls: ['https://gitea.example.test/org/guestbook.git'],
        ref: 'refs/heads/main',
        after: '3d'.repeat(20),
      });
    }
  });

  it('reads a push without an event header by its shape', () => {
    expect(pushEventOf('gitea', {}, json(GITEA_PUSH))?.after).toBe('3d'.repeat(20));
    expect(pushEventOf('gitlab', {}, json(GITLAB_PUSH))?.ref).toBe('refs/heads/release');
  });

  it('gives nothing for pings, other events and bodies that are not JSON', () => {
    const ping = {
      zen: 'Keep it logically awesome.',
      hook_id: 1,
      repository: GITHUB_PUSH.repository,
    };
    expect(pushEventOf('github', { 'x-github-event': 'ping' }, json(ping))).toBeUndefined();
    expect(pushEventOf('github', {}, json(ping))).toBeUndefined();
    expect(
      pushEventOf('github', { 'x-github-event': 'issues' }, json(GITHUB_PUSH)),
    ).toBeUndefined();
    expect(
      pushEventOf('gitlab', { 'x-gitlab-event': 'Merge Request Hook' }, json(GITLAB_PUSH)),
    ).toBeUndefined();
    expect(
      pushEventOf('gitea', { 'x-gitea-event': 'push' }, Buffer.from('{not json')),
    ).toBeUndefined();
    expect(
      pushEventOf('gitea', { 'x-gitea-event': 'push' }, json({ ref: 'refs/heads/main' })),
    ).toBeUndefined();
  });
});

describe('normalizeRepoUrl and matchApps', () => {
  it('normalizes scheme, host, user info, trailing .git and /', () => {
    expect(normalizeRepoUrl('HTTPS://GitHub.COM/Org/Guestbook.git/')).toBe(
      'https://github.com/Org/Guestbook',
    );
    expect(normalizeRepoUrl('https://user:pw@github.com:443/org/guestbook')).toBe(
      'https://github.com/org/guestbook',
    );
    expect(normalizeRepoUrl('https://git.example.test:8443/org/app.git')).toBe(
      'https://git.example.test:8443/org/app',
    );
    expect(normalizeRepoUrl('/srv/repos/app.git/')).toBe('/srv/repos/app');
  });

  const apps = [
    { name: 'guestbook', source: 'HTTPS://GITHUB.com/org/guestbook/' },
    { name: 'guestbook-main', source: 'https://github.com/org/guestbook.git', ref: 'main' },
    { name: 'guestbook-full', source: 'https://github.com/org/guestbook', ref: 'refs/heads/main' },
    { name: 'guestbook-dev', source: 'https://github.com/org/guestbook', ref: 'dev' },
    { name: 'guestbook-v1', source: 'https://github.com/org/guestbook', ref: 'v1' },
    { name: 'guestbook-pin', source: 'https://github.com/org/guestbook', ref: 'ab'.repeat(20) },
    { name: 'other', source: 'https://github.com/org/other.git' },
    { name: 'other-host', source: 'https://gitlab.com/org/guestbook.git' },
    { name: 'http', source: 'http://github.com/org/guestbook.git' },
  ];
  const names = (event: PushEvent) => matchApps(event, apps).map((app) => app.name);
  const urls = ['https://github.com/org/guestbook.git', 'https://github.com/org/guestbook'];

  it('matches a push to the default branch', () => {
    expect(
      names({ repoUrls: urls, ref: 'refs/heads/main', defaultBranch: 'main', after: 'x' }),
    ).toEqual(['guestbook', 'guestbook-main', 'guestbook-full']);
  });

  it('matches a push to another branch only for apps tracking it', () => {
    expect(names({ repoUrls: urls, ref: 'refs/heads/dev', defaultBranch: 'main' })).toEqual([
      'guestbook-dev',
    ]);
  });

  it('matches tags by name', () => {
    expect(names({ repoUrls: urls, ref: 'refs/tags/v1', defaultBranch: 'main' })).toEqual([
      'guestbook-v1',
    ]);
  });

  it('takes any push for HEAD apps when the default branch is unknown', () => {
    expect(names({ repoUrls: urls, ref: 'refs/heads/dev' })).toEqual([
      'guestbook',
      'guestbook-dev',
    ]);
  });

  it('matches every app of the repository when the push names no ref, except pinned ones', () => {
    expect(names({ repoUrls: urls })).toEqual([
      'guestbook',
      'guestbook-main',
      'guestbook-full',
      'guestbook-dev',
      'guestbook-v1',
      'guestbook-pin',
    ]);
  });

  it('matches nothing for another repository', () => {
    expect(
      names({ repoUrls: ['https://github.com/org/nothing.git'], ref: 'refs/heads/main' }),
    ).toEqual([]);
  });
});

interface Harness {
  url: string;
  pushes: WebhookPush[];
  logs: string[];
  outcomes: WebhookOutcome[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

async function startHandler(
  secret = SECRET,
  onPush?: (event: WebhookPush) => void,
): Promise<Harness> {
  const harness: Harness = { url: '', pushes: [], logs: [], outcomes: [] };
  const handler = createWebhookHandler({
    secret,
    onPush: onPush ?? ((event) => harness.pushes.push(event)),
    log: (line) => harness.logs.push(line),
    onDelivery: (outcome) => harness.outcomes.push(outcome),
  });
  const server = createServer((request, response) => {
    void handler(request, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  harness.url = `http://127.0.0.1:${port}/api/v1/webhook`;
  return harness;
}

async function post(url: string, body: Buffer, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('createWebhookHandler over HTTP', () => {
  it('refuses a bad signature with 401 and a log line, and triggers nothing', async () => {
    const harness = await startHandler();
    const body = json(GITHUB_PUSH);
    const headers = {
      ...signed('github', body, WRONG),
      'x-github-event': 'push',
      'x-github-delivery': 'd-1',
    };
    const answer = await post(harness.url, body, headers);
    expect(answer).toEqual({ status: 401, body: { error: 'signature mismatch' } });
    expect(harness.pushes).toEqual([]);
    expect(harness.outcomes).toEqual(['unauthorized']);
    expect(harness.logs).toEqual([
      'webhook: refused a delivery from 127.0.0.1 (delivery d-1): signature mismatch',
    ]);
    const logged = harness.logs.join('\n');
    expect(logged).not.toContain(SECRET);
    const signature = signed('github', body, WRONG)['x-hub-signature-256']!;
    expect(logged).not.toContain(signature.slice(7, 20));
  });

  it('refuses a missing signature with 401', async () => {
    const harness = await startHandler();
    const answer = await post(harness.url, json(GITHUB_PUSH), { 'x-github-event': 'push' });
    expect(answer).toEqual({ status: 401, body: { error: 'no signature header' } });
    expect(harness.pushes).toEqual([]);
    expect(harness.logs).toEqual([
      'webhook: refused a delivery from 127.0.0.1: no signature header',
    ]);
  });

  it('never logs a GitLab token that was wrong', async () => {
    const harness = await startHandler();
    const token = 'a-guess-that-must-stay-out-of-logs';
    const answer = await post(harness.url, json(GITLAB_PUSH), {
      'x-gitlab-token': token,
      'x-gitlab-event': 'Push Hook',
    });
    expect(answer.status).toBe(401);
    expect(harness.pushes).toEqual([]);
    expect(harness.logs.join('\n')).not.toContain(token);
  });

  it('accepts a signed push with 202 and calls onPush once', async () => {
    const harness = await startHandler();
    const body = json(GITHUB_PUSH);
    const answer = await post(harness.url, body, {
      ...signed('github', body, SECRET),
      'x-github-event': 'push',
      'x-github-delivery': 'd-2',
    });
    expect(answer).toEqual({ status: 202, body: { ok: true, event: 'push' } });
    expect(harness.pushes).toEqual([
      {
        provider: 'github',
        delivery: 'd-2',
        repoUrls: [
          'https://github.com/org/guestbook.git',
          'https://github.com/org/guestbook',
          'git@github.com:org/guestbook.git',
        ],
        ref: 'refs/heads/main',
        after: '1f'.repeat(20),
        defaultBranch: 'main',
      },
    ]);
    expect(harness.outcomes).toEqual(['accepted']);
    expect(harness.logs).toEqual([
      `webhook: github push to https://github.com/org/guestbook.git refs/heads/main at ${'1f'.repeat(6)} (delivery d-2)`,
    ]);
  });

  it('accepts pushes from GitLab, Gitea and Gogs', async () => {
    const harness = await startHandler();
    const gitlab = json(GITLAB_PUSH);
    const gitea = json(GITEA_PUSH);
    expect(
      (
        await post(harness.url, gitlab, {
          ...signed('gitlab', gitlab, SECRET),
          'x-gitlab-event': 'Push Hook',
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await post(harness.url, gitea, {
          ...signed('gitea', gitea, SECRET),
          'x-gitea-event': 'push',
        })
      ).status,
    ).toBe(202);
    expect(
      (await post(harness.url, gitea, { ...signed('gogs', gitea, SECRET), 'x-gogs-event': 'push' }))
        .status,
    ).toBe(202);
    expect(harness.pushes.map((push) => [push.provider, push.ref])).toEqual([
      ['gitlab', 'refs/heads/release'],
      ['gitea', 'refs/heads/main'],
      ['gogs', 'refs/heads/main'],
    ]);
  });

  it('answers a signed ping with 200 and triggers nothing', async () => {
    const harness = await startHandler();
    const body = json({ zen: 'Design for failure.', hook_id: 7 });
    const answer = await post(harness.url, body, {
      ...signed('github', body, SECRET),
      'x-github-event': 'ping',
    });
    expect(answer).toEqual({ status: 200, body: { ok: true, event: 'ping' } });
    expect(harness.pushes).toEqual([]);
    expect(harness.outcomes).toEqual(['ignored']);
  });

  it('answers a signed body that is not JSON with 400', async () => {
    const harness = await startHandler();
    const body = Buffer.from('this is not json');
    const answer = await post(harness.url, body, {
      ...signed('gitea', body, SECRET),
      'x-gitea-event': 'push',
    });
    expect(answer).toEqual({ status: 400, body: { error: 'body is not JSON' } });
    expect(harness.pushes).toEqual([]);
  });

  it('refuses other methods with 405', async () => {
    const harness = await startHandler();
    const response = await fetch(harness.url);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    await response.arrayBuffer();
    expect(harness.outcomes).toEqual(['method-not-allowed']);
  });

  it('refuses bodies over 1 MiB with 413 before checking anything', async () => {
    const harness = await startHandler();
    const body = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const answer = await post(harness.url, body, {
      ...signed('github', body, SECRET),
      'x-github-event': 'push',
    });
    expect(answer.status).toBe(413);
    expect(harness.pushes).toEqual([]);
    expect(harness.outcomes).toEqual(['too-large']);
  });

  it('refuses a chunked body that grows past 1 MiB with 413', async () => {
    const harness = await startHandler();
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(harness.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gitea-event': 'push' },
      });
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const write = () => {
        while (sent < 2 * 1024 * 1024) {
          sent += chunk.length;
          if (!request.write(chunk)) {
            request.once('drain', write);
            return;
          }
        }
        request.end();
      };
      write();
    });
    expect(status).toBe(413);
    expect(harness.pushes).toEqual([]);
    expect(harness.outcomes).toEqual(['too-large']);
  });

  it('accepts a body of exactly 1 MiB', async () => {
    const harness = await startHandler();
    const text = JSON.stringify(GITEA_PUSH);
    const body = Buffer.from(text.padEnd(1024 * 1024, ' '));
    const answer = await post(harness.url, body, {
      ...signed('gitea', body, SECRET),
      'x-gitea-event': 'push',
    });
    expect(answer.status).toBe(202);
    expect(harness.pushes).toHaveLength(1);
  });

  it('answers 500 when onPush throws, and says so in the log', async () => {
    const harness = await startHandler(SECRET, () => {
      throw new Error('queue closed');
    });
    const body = json(GITEA_PUSH);
    const answer = await post(harness.url, body, {
      ...signed('gitea', body, SECRET),
      'x-gitea-event': 'push',
    });
    expect(answer.status).toBe(500);
    expect(harness.logs).toEqual(['webhook: gitea push could not be handled: queue closed']);
    expect(harness.outcomes).toEqual(['failed']);
  });
});
