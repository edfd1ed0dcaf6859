import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import {
  AGENT_HELP,
  type AgentCommandDeps,
  advertisedAddress,
  defaultDataDir,
  defaultNodeName,
  parseNodeLabels,
  runAgent,
} from '../../operator/cli/agent.js';
import { main } from '../../operator/cli/main.js';
import { FakeNodeAgent, testPod, waitFor } from '../agent/fake-node-agent.js';
import { captureIo } from '../helpers/capture-io.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

function podYaml(name: string): string {
  return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n    - name: main\n      image: busybox\n`;
}

/** Starts the command in-process with a fake agent; returns what a test needs to drive it. */
function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const agent = new FakeNodeAgent();
  const stop = new AbortController();
  const io = captureIo(env);
  let created: { node: string; dataDir: string } | undefined;
  const deps: AgentCommandDeps = {
    createAgent: async (options) => {
      created = options;
      return agent;
    },
    stopSignal: stop.signal,
  };
  const exit = runAgent(args, io, deps);
  cleanups.push(async () => {
    stop.abort();
    await exit.catch(() => {});
  });
  const served = async (): Promise<string> => {
    const match = await waitFor(
      () => /serving on (http:\/\/\S+)/.exec(io.out()),
      'the served address',
    );
    return match[1]!;
  };
  return { agent, stop, io, exit, served, created: () => created };
}

describe('berth agent (standalone)', () => {
  it('runs the pods of a manifest dir, follows changes, serves status, and stops leaving pods alone', async () => {
    const dir = await tempDir('berth-agent-cli-');
    const dataDir = path.join(dir, 'data');
    const manifests = path.join(dir, 'manifests');
    await fsp.mkdir(manifests);
    await fsp.writeFile(path.join(manifests, 'web.yaml'), podYaml('web'));
    const run = start([
      '--manifests',
      manifests,
      '--data-dir',
      dataDir,
      '--name',
      'node-cli',
      '--listen',
      '127.0.0.1:0',
    ]);
    const url = await run.served();
    expect(run.created()).toEqual({ node: 'node-cli', dataDir });
    await waitFor(() => run.agent.desiredNames().join() === 'default/web', 'first set');
    expect(run.io.out()).toContain('desired: 1 pod');

    await fsp.writeFile(path.join(manifests, 'db.yaml'), podYaml('db'));
    await waitFor(() => run.agent.desiredNames().length === 2, 'the added file');

    // The token was made on first start; the port wants it.
    const token = (await fsp.readFile(path.join(dataDir, 'token'), 'utf8')).trim();
    expect((await fetch(`${url}/v1/pods`)).status).toBe(401);
    const list = await fetch(`${url}/v1/pods`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await list.json()) as { pods: unknown[] }).pods).toHaveLength(2);

    await fsp.writeFile(path.join(manifests, 'db.yaml'), 'kind: Pod\nmetadata: [\n');
    await waitFor(() => run.io.err().includes('keeping its last good version'), 'the kept file');
    expect(run.agent.desiredNames()).toEqual(['default/db', 'default/web']);
    expect(run.io.err()).toMatch(/db\.yaml:\d+:\d+: /);

    run.stop.abort();
    expect(await run.exit).toBe(0);
    expect(run.agent.stopped).toBe(true);
    expect(run.io.out()).toContain('pods left running');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('uses --token for its port when given, and reports ignored kinds', async () => {
    const dir = await tempDir('berth-agent-cli-');
    await fsp.writeFile(
      path.join(dir, 'rc.yaml'),
      `apiVersion: v1
kind: ReplicationController
metadata:
  name: frontend
spec:
  replicas: 1
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: busybox
`,
    );
    const run = start(
      ['--manifests', dir, '--data-dir', path.join(dir, '.data'), '--listen', ':0', '--name', 'n'],
      { BERTH_TOKEN: 'env-token' },
    );
    const url = await run.served();
    await waitFor(() => run.io.err().includes('ignored replicationcontroller/frontend'), 'ignored');
    const ok = await fetch(`${url}/v1/pods`, { headers: { authorization: 'Bearer env-token' } });
    expect(ok.status).toBe(200);
    await expect(fsp.stat(path.join(dir, '.data', 'token'))).rejects.toThrow();
  });
});

describe('berth agent (attached)', () => {
  it('registers with the operator, runs what it assigns, and reports status', async () => {
    const endpoint = createNodeEndpoint({ token: 'op-token', heartbeatIntervalSeconds: 1 });
    const operator = await endpoint.listen('127.0.0.1', 0);
    cleanups.push(operator.close);
    const dir = await tempDir('berth-agent-cli-');
    const run = start([
      '--server',
      operator.url,
      '--token',
      'op-token',
      '--name',
      'node-att',
      '--labels',
      'disk=ssd,zone=a',
      '--data-dir',
      dir,
      '--listen',
      '127.0.0.1:0',
    ]);
    const url = await run.served();
    const node = await waitFor(() => endpoint.node('node-att'), 'registration');
    expect(node.labels).toEqual({ disk: 'ssd', zone: 'a' });
    expect(node.address).toBe(url);
    endpoint.assign('node-att', [testPod('web')]);
    await waitFor(() => run.agent.desiredNames().join() === 'default/web', 'assignment');
    await waitFor(() => endpoint.node('node-att')?.pods.length === 1, 'status report');
    run.stop.abort();
    expect(await run.exit).toBe(0);
  });

  it('reads the token from --token-file and takes the node name from --node-name', async () => {
    const endpoint = createNodeEndpoint({ token: 'file-token', heartbeatIntervalSeconds: 1 });
    const operator = await endpoint.listen('127.0.0.1', 0);
    cleanups.push(operator.close);
    const dir = await tempDir('berth-agent-cli-');
    const tokenFile = path.join(dir, 'operator-token');
    await fsp.writeFile(tokenFile, 'file-token\n', { mode: 0o600 });
    const run = start([
      '--server',
      operator.url,
      '--token-file',
      tokenFile,
      '--node-name',
      'node-file',
      '--data-dir',
      path.join(dir, 'data'),
      '--listen',
      'off',
    ]);
    await waitFor(() => endpoint.node('node-file'), 'registration with the token from the file');
    expect(run.created()?.node).toBe('node-file');
    run.stop.abort();
    expect(await run.exit).toBe(0);
  });

  it('exits 2 with a clear message when the operator refuses the token', async () => {
    const endpoint = createNodeEndpoint({ token: 'op-token' });
    const operator = await endpoint.listen('127.0.0.1', 0);
    cleanups.push(operator.close);
    const dir = await tempDir('berth-agent-cli-');
    const run = start([
      '--server',
      operator.url,
      '--token',
      'bad',
      '--data-dir',
      dir,
      '--listen',
      'off',
      '--name',
      'n',
    ]);
    await expect(run.exit).rejects.toMatchObject({ code: 'API_UNAUTHORIZED' });
    expect(run.agent.stopped).toBe(true);
    expect(run.agent.calls).toEqual([]);
  });
});

describe('berth agent usage', () => {
  it('documents every flag with its default', async () => {
    for (const flag of [
      '--manifests',
      '--server',
      '--token',
      '--token-file',
      '--name',
      '--node-name',
      '--labels',
      '--data-dir',
      '--listen',
    ]) {
      expect(AGENT_HELP).toContain(flag);
    }
    expect(AGENT_HELP.match(/@default/g)?.length).toBeGreaterThanOrEqual(5);
    const io = captureIo();
    expect(await main(['agent', '--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: berth agent');
    const help = captureIo();
    expect(await main(['help', 'agent'], help)).toBe(0);
    expect(help.out()).toBe(io.out());
  });

  it('refuses bad combinations and values with exit 2', async () => {
    const dir = await tempDir('berth-agent-cli-');
    const cases: [string[], RegExp][] = [
      [[], /exactly one of --manifests and --server/],
      [['--manifests', dir, '--server', 'http://127.0.0.1:1'], /exactly one/],
      [['--server', 'http://127.0.0.1:1'], /needs --token/],
      [['--server', 'ftp://x', '--token', 't'], /not an http\(s\) URL/],
      [
        ['--server', 'http://127.0.0.1:1', '--token-file', path.join(dir, 'missing')],
        /--token-file .*missing/,
      ],
      [['--server', 'http://127.0.0.1:1', '--token', 't', '--token-file', dir], /not both/],
      [['--manifests', dir, '--name', 'a', '--node-name', 'b'], /different nodes/],
      [['--manifests', path.join(dir, 'missing')], /no such directory/],
      [['--manifests', dir, '--name', 'Bad_Name'], /not a DNS-1123 subdomain/],
      [['--manifests', dir, '--labels', 'novalue'], /not KEY=VALUE/],
      [['--manifests', dir, '--listen', 'nowhere'], /not HOST:PORT/],
      [['--manifests', dir, '--bogus'], /Unknown option/],
    ];
    for (const [args, message] of cases) {
      const io = captureIo();
      expect(await main(['agent', ...args], io), args.join(' ')).toBe(2);
      expect(io.err(), args.join(' ')).toMatch(message);
    }
  });

  it('parses labels, node names and the data dir default', () => {
    expect(parseNodeLabels('disk=ssd, zone=a')).toEqual({ disk: 'ssd', zone: 'a' });
    expect(parseNodeLabels(undefined)).toEqual({});
    expect(() => parseNodeLabels('bad key=x')).toThrow(/--labels/);
    expect(defaultNodeName('My_Host.Example.COM')).toBe('my-host.example.com');
    expect(defaultNodeName('---')).toBe('node');
    expect(defaultDataDir({ XDG_DATA_HOME: '/x' }, 'n1')).toBe('/x/berth/nodes/n1');
    expect(defaultDataDir({}, 'n1')).toBe(path.join(os.homedir(), '.local/share/berth/nodes/n1'));
  });

  it('advertises a reachable address when bound to every interface', () => {
    const bound = (address: string, family: string) => ({
      url: `http://${address}:10251`,
      address: { address, family, port: 10251 },
    });
    const interfaces = {
      lo: [{ family: 'IPv4', internal: true, address: '127.0.0.1' }],
      eth0: [{ family: 'IPv4', internal: false, address: '192.0.2.7' }],
    } as unknown as ReturnType<typeof os.networkInterfaces>;
    expect(advertisedAddress(bound('0.0.0.0', 'IPv4'), interfaces)).toBe('http://192.0.2.7:10251');
    expect(advertisedAddress(bound('::', 'IPv6'), interfaces)).toBe('http://192.0.2.7:10251');
    expect(advertisedAddress(bound('127.0.0.1', 'IPv4'), interfaces)).toBe(
      'http://127.0.0.1:10251',
    );
    expect(advertisedAddress(bound('0.0.0.0', 'IPv4'), {})).toBe('http://0.0.0.0:10251');
  });
});
