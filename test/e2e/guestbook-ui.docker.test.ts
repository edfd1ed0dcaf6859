/**
 * The Guestbook's page in a real browser: a copy of guestbook/ pushed with the real `git` to
 * the built `berth serve` on the real Docker Engine, then Debian's Chromium, headless and
 * driven by playwright-core, opens http://127.0.0.1:30080/ (the frontend's NodePort), types an
 * entry, clicks Submit and finds it listed; a fresh load of the page lists it too (read back
 * from the redis replicas). The page is saved to test-artifacts/guestbook-ui.png.
 */
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImages } from '../../images/build.js';
import { REPO_ROOT } from '../helpers/run-berth.js';
import { waitFor } from '../helpers/wait.js';
import { hasLabels, pushRepo, repoFromDirectory, type Serve, startServe } from './harness.js';

const APP = 'guestbook';
const PAGE = 'http://127.0.0.1:30080/';
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.join(REPO_ROOT, 'test-artifacts', 'guestbook-ui.png');
/** What each pod set of the shipped repository holds once it is up. */
const EXPECTED_READY = [
  { selector: { app: 'redis', role: 'master' }, count: 1 },
  { selector: { app: 'redis', role: 'replica' }, count: 2 },
  { selector: { app: 'guestbook', tier: 'frontend' }, count: 3 },
] as const;

let serve: Serve | undefined;
let browser: BrowserContext | undefined;
let profileDir = '';

/** One GET on a fresh connection, with a deadline: status and body, or the error. */
function get(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in time`)));
    req.on('error', reject);
  });
}

beforeAll(async () => {
  // Cold, the images are built from Debian packages (minutes); present, this is a look-up.
  await ensureImages(['redis:7.0', 'berth/guestbook-frontend:1']);
  serve = await startServe({ name: 'gb-ui' });
}, 30 * 60_000);

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    // Stops serve and removes every container of its node.
    await serve?.stop();
    if (profileDir !== '') await fsp.rm(profileDir, { recursive: true, force: true });
  }
}, 120_000);

describe('the Guestbook page in headless Chromium', () => {
  it('adds an entry by typing and clicking, and lists it', async () => {
    const live = serve!;
    const started = Date.now();

    // 1. The shipped repository, pushed as is; every pod ready.
    const { dir: repo, commit } = await repoFromDirectory(
      path.join(REPO_ROOT, 'guestbook'),
      path.join(live.dir, 'repo'),
    );
    await pushRepo(repo, live.remote(APP));
    await live.waitForApp(APP, { commit, timeoutMs: 180_000 });
    await waitFor(
      async () => {
        const pods = await live.pods();
        return EXPECTED_READY.every(
          ({ selector, count }) =>
            pods.filter((pod) => hasLabels(pod, selector) && pod.ready).length === count,
        );
      },
      'redis master, 2 replicas and 3 frontends ready',
      180_000,
    );
    // The node port answers (the agent writes its rules after the pods are ready).
    await waitFor(
      () =>
        get(PAGE).then(
          (answer) => answer.status === 200,
          () => false,
        ),
      'the page through the node port',
      60_000,
    );
    const ready = Date.now();

    // 2. Chromium, headless, on a fresh profile, kept off the network but this machine.
    profileDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-chromium-'));
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1000, height: 700 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
    page.on('requestfailed', (req) =>
      failures.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`),
    );
    page.on('response', (res) => {
      // The browser asks for /favicon.ico on its own; the page names none.
      if (res.status() >= 400 && !res.url().endsWith('/favicon.ico'))
        failures.push(`HTTP ${res.status()}: ${res.url()}`);
    });

    const response = await page.goto(PAGE, { waitUntil: 'load', timeout: 30_000 });
    expect(response?.status()).toBe(200);
    const entry = page.locator('#entry');
    const submit = page.locator('#submit');
    const entries = page.locator('#entries');
    await entry.waitFor({ state: 'visible', timeout: 10_000 });
    await submit.waitFor({ state: 'visible', timeout: 10_000 });
    await entries.waitFor({ state: 'attached', timeout: 10_000 });

    // 3. Type, click, see it listed; twice, so the page writes back the whole list.
    const suffix = Date.now().toString(36);
    const texts = [`Hello from Chromium ${suffix}`, `Second visit ${suffix}`];
    const listed = (text: string) => entries.locator('li', { hasText: text });
    for (const text of texts) {
      await entry.fill(text);
      await submit.click();
      await listed(text).waitFor({ state: 'visible', timeout: 20_000 });
      expect(await entry.inputValue()).toBe('');
    }
    expect(await entries.locator('li').allTextContents()).toEqual(texts);
    // The server has both: the frontend's read through the node port answers with them.
    const stored = await waitFor(
      async () => {
        const answer = await get(`${PAGE}guestbook.php?cmd=get&key=messages`).catch(
          () => undefined,
        );
        return answer?.status === 200 && texts.every((t) => answer.body.includes(t))
          ? answer.body
          : undefined;
      },
      'the entries from cmd=get',
      20_000,
    );
    expect(JSON.parse(stored)).toEqual({ data: texts.join(',') });

    // 4. A fresh load lists them too: read back from the redis replicas, not left in the page.
    await waitFor(
      async () => {
        await Promise.all([
          page.waitForResponse((res) => res.url().includes('cmd=get'), { timeout: 10_000 }),
          page.reload({ waitUntil: 'load', timeout: 30_000 }),
        ]);
        return listed(texts[1]!)
          .waitFor({ state: 'visible', timeout: 2_000 })
          .then(
            () => true,
            () => false,
          );
      },
      'the entries listed after a reload',
      30_000,
    );
    expect(await entries.locator('li').allTextContents()).toEqual(texts);
    expect(await page.locator('#status').textContent()).toBe('');

    await fsp.mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect((await fsp.stat(SCREENSHOT)).size).toBeGreaterThan(1_000);
    expect(failures).toEqual([]);
    console.log(
      `guestbook ui e2e: push to ready ${ready - started} ms, browser steps ${Date.now() - ready} ms`,
    );
  }, 600_000);
});
