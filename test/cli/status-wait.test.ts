/**
 * `berth status APP --wait`: against a `berth serve` server (real store in a temp data dir, an
 * app on a local git repository) whose container-less local agent reports its pods ready only
 * when the test says so. The wait ends at Synced and Healthy (at --commit when given), exits 1
 * at --timeout with the reason, and shows progress as lines, or as one rewritten line on a
 * terminal.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../operator/cli/main.js';
import { runStatus } from '../../operator/cli/status.js';
import type { PodStatus } from '../../operator/model/generated/types.js';
import { type OperatorServer, startOperatorServer } from '../../operator/operator/server.js';
import { FakeNodeAgent, type FakePodReport } from '../agent/fake-node-agent.js';
import { captureIo } from '../helpers/capture-io.js';
import { commitFiles, initRepo, podYaml } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

/** Reports its pods Running, and Ready only once `ready` is set (then `emit()`). */
class ReadyOnCueAgent extends FakeNodeAgent {
  ready = false;

  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }

  override pods(): FakePodReport[] {
    return super.pods().map((pod) => ({
      ...pod,
      status: {
        ...pod.status,
        conditions: [{ type: 'Ready', status: this.ready ? 'True' : 'False' }],
      } as PodStatus,
    }));
  }
}

let dir: string;
let dataDir: string;
let server: OperatorServer | undefined;
let agent: ReadyOnCueAgent;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-status-wait-'));
  dataDir = path.join(dir, 'data');
  agent = new ReadyOnCueAgent();
  server = await startOperatorServer({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    nodeName: 'local',
    createAgent: async () => agent,
    watch: false,
  });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await fsp.rm(dir, { recursive: true, force: true });
});

function running(): OperatorServer {
  if (server === undefined) throw new Error('no server');
  return server;
}

/** `berth status ...` through runStatus with a short poll; a terminal when `tty`. */
async function status(
  argv: readonly string[],
  options: { tty?: boolean; during?: (io: ReturnType<typeof captureIo>) => Promise<void> } = {},
): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({});
  if (options.tty === true) Object.assign(io.stdout, { isTTY: true, columns: 200 });
  const run = runStatus([...argv, '--data-dir', dataDir], io, { pollMs: 20 });
  await options.during?.(io);
  const code = await run;
  return { code, out: io.out(), err: io.err() };
}

/** An app `shop` with one pod, synced at `commit`; the pod is reported, not ready. */
async function shopSynced(): Promise<{ repo: string; commit: string }> {
  const repo = initRepo(path.join(dir, 'shop'));
  const commit = commitFiles(repo, { 'a.yaml': podYaml('a') }, 'add a');
  const io = captureIo({});
  expect(await main(['app', 'add', 'shop', repo, '--ref', 'main', '--data-dir', dataDir], io)).toBe(
    0,
  );
  await waitFor(() => {
    const s = running().apps.status('shop');
    return s?.sync === 'Synced' && s.lastApplied?.commit === commit && s.health === 'Progressing';
  }, 'shop synced, its pod reported not ready');
  return { repo, commit };
}

describe('berth status APP --wait', () => {
  it('waits until the app is Healthy, printing what it waits for', async () => {
    const { commit } = await shopSynced();
    const result = await status(['shop', '--wait', '--timeout', '20s'], {
      during: async (io) => {
        await waitFor(
          () => io.out().includes('shop: Synced, Progressing: 0 of 1 pods ready'),
          'progress',
        );
        agent.ready = true;
        agent.emit();
      },
    });
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const lines = result.out.trimEnd().split('\n');
    // A line when what it waits for changes, not one per poll.
    expect(lines).toEqual([
      'shop: Synced, Progressing: 0 of 1 pods ready; waiting for default/a',
      expect.stringMatching(
        new RegExp(
          `^shop: Synced and Healthy at ${commit.slice(0, 7)} \\(1 pod ready\\) after \\d+s$`,
        ),
      ),
    ]);

    // Already there: answers at once; -o json prints the status.
    const json = await status(['shop', '--wait', '-o', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({
      name: 'shop',
      sync: 'Synced',
      health: 'Healthy',
      lastApplied: { commit },
    });
  });

  it('exits 1 at --timeout saying why, and waits for the --commit given', async () => {
    const { repo, commit } = await shopSynced();
    const started = Date.now();
    const late = await status(['shop', '--wait', '--timeout', '300ms']);
    expect(late.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(late.err).toBe(
      'berth: shop is not Synced and Healthy after 300ms: Synced, Progressing: 0 of 1 pods ready; waiting for default/a\n',
    );

    agent.ready = true;
    agent.emit();
    await waitFor(() => running().apps.status('shop')?.health === 'Healthy', 'shop healthy');
    // Healthy, but not at the commit asked for: not done.
    const second = commitFiles(repo, { 'b.yaml': podYaml('b') }, 'add b');
    const notYet = await status(['shop', '--wait', '--timeout', '200ms', '--commit', second]);
    expect(notYet.code).toBe(1);
    expect(notYet.err).toContain(
      `after 200ms: waiting for commit ${second.slice(0, 7)} (${commit.slice(0, 7)} applied); Synced, Healthy`,
    );

    // The commit arrives while it waits (a short id is enough).
    const arrived = await status(
      ['shop', '--wait', '--timeout', '20s', '--commit', second.slice(0, 10)],
      {
        during: async (io) => {
          await waitFor(() => io.out().includes('waiting for commit'), 'waiting for the commit');
          expect(running().apps.trigger('shop')).toBe(true);
        },
      },
    );
    expect(arrived.err).toBe('');
    expect(arrived.code).toBe(0);
    expect(arrived.out).toMatch(
      new RegExp(`shop: Synced and Healthy at ${second.slice(0, 7)} \\(2 pods ready\\)`),
    );
  });

  it('shows one line of progress on a terminal, rewritten in place', async () => {
    await shopSynced();
    const result = await status(['shop', '--wait', '--timeout', '20s'], {
      tty: true,
      during: async (io) => {
        // Several polls, the same state: the line is rewritten, never a new line.
        await waitFor(() => io.out().split('\r\x1b[2K').length > 3, 'a few progress redraws');
        agent.ready = true;
        agent.emit();
      },
    });
    expect(result.code).toBe(0);
    const redraws = result.out.split('\r\x1b[2K');
    expect(
      redraws.slice(1, -1).every((text) => /^shop: Synced, Progressing: .* \(\d+s\)$/.test(text)),
    ).toBe(true);
    expect(redraws.at(-1)).toMatch(
      /^shop: Synced and Healthy at [0-9a-f]{7} \(1 pod ready\) after \d+s\n$/,
    );
    expect(result.out.split('\n').length).toBe(2);
  });

  it('refuses usage errors and an unknown app at once (exit 2)', async () => {
    for (const argv of [
      ['--wait'],
      ['shop', '--timeout', '5s'],
      ['shop', '--commit', 'abc1234'],
      ['shop', '--wait', '--commit', 'not-a-sha'],
      ['shop', '--wait', '--timeout', 'soon'],
    ]) {
      const io = captureIo({});
      const code = await main(['status', ...argv, '--data-dir', dataDir], io);
      expect(code, argv.join(' ')).toBe(2);
      expect(io.err(), argv.join(' ')).toMatch(/^berth: /);
    }
    const started = Date.now();
    const io = captureIo({});
    expect(
      await main(['status', 'nope', '--wait', '--timeout', '1m', '--data-dir', dataDir], io),
    ).toBe(2);
    expect(io.err()).toContain('no app named nope');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
