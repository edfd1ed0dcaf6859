import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AgentHttpServer,
  loadOrCreateToken,
  parseListenAddress,
  startAgentHttpServer,
} from '../../operator/agent/http-server.js';
import { FakeNodeAgent, testPod, waitFor } from './fake-node-agent.js';

const TOKEN = 'http-test-token';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function serve(agent: FakeNodeAgent): Promise<AgentHttpServer> {
  const server = await startAgentHttpServer(
    { agent, node: 'node-h', token: TOKEN },
    '127.0.0.1',
    0,
  );
  cleanups.push(server.close);
  return server;
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe('agent HTTP server', () => {
  it('answers /healthz without a token and everything else only with it', async () => {
    const server = await serve(new FakeNodeAgent());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    for (const route of ['/v1/pods', '/v1/pods/default/web', '/v1/pods/default/web/log']) {
      const bare = await fetch(`${server.url}${route}`);
      expect(bare.status, route).toBe(401);
      expect(bare.headers.get('www-authenticate')).toContain('Bearer');
      const wrong = await fetch(`${server.url}${route}`, {
        headers: { authorization: 'Bearer other' },
      });
      expect(wrong.status, route).toBe(401);
    }
  });

  it('lists pod reports and serves one, 404 for a pod it does not run', async () => {
    const agent = new FakeNodeAgent();
    agent.setDesiredPods([testPod('web'), testPod('db', 'prod')], 'v1');
    const server = await serve(agent);
    const list = await fetch(`${server.url}/v1/pods`, { headers: auth });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { node: string; pods: { name: string }[] };
    expect(body.node).toBe('node-h');
    expect(body.pods.map((p) => p.name)).toEqual(['web', 'db']);
    const one = await fetch(`${server.url}/v1/pods/prod/db`, { headers: auth });
    expect(await one.json()).toMatchObject({
      protocolVersion: 1,
      namespace: 'prod',
      name: 'db',
      status: { phase: 'Running' },
    });
    const missing = await fetch(`${server.url}/v1/pods/default/db`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not-found' } });
    const post = await fetch(`${server.url}/v1/pods`, { method: 'POST', headers: auth });
    expect(post.status).toBe(405);
  });

  it('serves logs with tail and container, and 404 for an unknown container', async () => {
    const agent = new FakeNodeAgent();
    agent.setDesiredPods([testPod('web')], 'v1');
    agent.logText.set('default/web/main', 'one\ntwo\nthree\n');
    const server = await serve(agent);
    const all = await fetch(`${server.url}/v1/pods/default/web/log`, { headers: auth });
    expect(all.headers.get('content-type')).toContain('text/plain');
    expect(await all.text()).toBe('one\ntwo\nthree\n');
    const tail = await fetch(`${server.url}/v1/pods/default/web/log?container=main&tail=2`, {
      headers: auth,
    });
    expect(await tail.text()).toBe('two\nthree\n');
    const badTail = await fetch(`${server.url}/v1/pods/default/web/log?tail=x`, { headers: auth });
    expect(badTail.status).toBe(400);
    const other = await fetch(`${server.url}/v1/pods/default/web/log?container=nope`, {
      headers: auth,
    });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ error: { code: 'not-found' } });
  });

  it('asks for a container name when a pod has several, and reports engine failures as 500', async () => {
    const agent = new FakeNodeAgent();
    const pod = testPod('two');
    pod.spec!.containers.push({ name: 'side', image: 'busybox' });
    agent.setDesiredPods([pod], 'v1');
    agent.logText.set('default/two/side', 'engine failure');
    const server = await serve(agent);
    const unnamed = await fetch(`${server.url}/v1/pods/default/two/log`, { headers: auth });
    expect(unnamed.status).toBe(400);
    expect(await unnamed.text()).toContain('container name must be specified');
    const failed = await fetch(`${server.url}/v1/pods/default/two/log?container=side`, {
      headers: auth,
    });
    expect(failed.status).toBe(500);
  });

  it('streams followed logs as they come, and releases the stream when the client hangs up', async () => {
    const agent = new FakeNodeAgent();
    agent.setDesiredPods([testPod('web')], 'v1');
    agent.logText.set('default/web/main', 'first\n');
    const server = await serve(agent);
    const abort = new AbortController();
    const response = await fetch(`${server.url}/v1/pods/default/web/log?follow=1`, {
      headers: auth,
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (text: string): Promise<void> => {
      while (!received.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before "${text}" (got "${received}")`);
        received += decoder.decode(value, { stream: true });
      }
    };
    await readUntil('first\n');
    const follower = await waitFor(() => agent.followers[0], 'a follow stream');
    follower.write('second\n');
    await readUntil('second\n');
    abort.abort();
    await waitFor(() => follower.destroyed, 'the follow stream to be released');
  });

  it('parses --listen forms and refuses others', () => {
    expect(parseListenAddress('127.0.0.1:10251')).toEqual({ host: '127.0.0.1', port: 10251 });
    expect(parseListenAddress(':0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseListenAddress('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    for (const bad of ['127.0.0.1', '127.0.0.1:99999', 'host:port', '::1:80']) {
      expect(() => parseListenAddress(bad), bad).toThrow(/not HOST:PORT/);
    }
  });

  it('reports a taken port as AGENT_LISTEN_FAILED', async () => {
    const server = await serve(new FakeNodeAgent());
    await expect(
      startAgentHttpServer(
        { agent: new FakeNodeAgent(), node: 'x', token: TOKEN },
        '127.0.0.1',
        server.address.port,
      ),
    ).rejects.toMatchObject({ code: 'AGENT_LISTEN_FAILED' });
  });
});

describe('agent token file', () => {
  it('is created 0600 on first start and read back after', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-token-'));
    cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
    const dataDir = path.join(dir, 'data');
    const token = await loadOrCreateToken(dataDir);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const stat = await fsp.stat(path.join(dataDir, 'token'));
    expect(stat.mode & 0o777).toBe(0o600);
    expect(await loadOrCreateToken(dataDir)).toBe(token);
  });

  it('refuses a token file others can read', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-token-'));
    cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
    await fsp.writeFile(path.join(dir, 'token'), 'abc\n', { mode: 0o644 });
    await fsp.chmod(path.join(dir, 'token'), 0o644);
    await expect(loadOrCreateToken(dir)).rejects.toMatchObject({ code: 'AGENT_TOKEN' });
  });
});
