import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiff } from '../../operator/cli/diff.js';
import { main } from '../../operator/cli/main.js';
import { commitFiles, git, initRepo, makeTempDir } from '../helpers/git-repo.js';
import { runBerth } from '../helpers/run-berth.js';

const RC = (replicas: number, image = 'nginx:1.25') => `apiVersion: v1
kind: ReplicationController
metadata:
  name: frontend
  labels:
    app: frontend
spec:
  replicas: ${replicas}
  selector:
    app: frontend
  template:
    metadata:
      labels:
        app: frontend
    spec:
      containers:
        - name: web
          image: ${image}
          ports:
            - containerPort: 80
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: frontend
spec:
  selector:
    app: frontend
  ports:
    - port: 80
      targetPort: 80
`;

const POD = (port: number) => `apiVersion: v1
kind: Pod
metadata:
  name: redis
  labels:
    app: redis
spec:
  containers:
    - name: redis
      image: redis:7
      ports:
        - containerPort: ${port}
`;

interface Captured {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `berth ARGS` in this process, with stdout claiming to be a terminal or not. */
async function berth(
  args: readonly string[],
  options: { tty?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  const out = Object.assign(
    sink((t) => {
      stdout += t;
    }),
    { isTTY: options.tty ?? false },
  );
  const err = sink((t) => {
    stderr += t;
  });
  const status = await main(args, {
    stdout: out,
    stderr: err,
    env: options.env ?? {},
    cwd: process.cwd(),
  });
  return { status, stdout, stderr };
}

let temp: { path: string; remove(): void };

beforeAll(() => {
  temp = makeTempDir('cli-diff');
});
afterAll(() => {
  temp.remove();
});

/** A repository with commit `from` holding `before` and commit `to` holding `after`. */
function twoCommits(
  name: string,
  before: Record<string, string>,
  after: Record<string, string>,
  removed: readonly string[] = [],
): string {
  const dir = initRepo(`${temp.path}/${name}`);
  commitFiles(dir, before, 'before');
  git(dir, 'tag', 'from');
  for (const file of removed) git(dir, 'rm', '-q', file);
  commitFiles(dir, after, 'after');
  git(dir, 'tag', 'to');
  return dir;
}

describe('berth diff --from --to renders each kind of change (golden files)', () => {
  const cases: {
    name: string;
    before: Record<string, string>;
    after: Record<string, string>;
    removed?: string[];
    status: number;
  }[] = [
    {
      name: 'create',
      before: { 'service.yaml': SERVICE },
      after: { 'rc.yaml': RC(3) },
      status: 1,
    },
    {
      name: 'update',
      before: { 'service.yaml': SERVICE, 'rc.yaml': RC(3) },
      after: { 'rc.yaml': RC(5) },
      status: 1,
    },
    {
      name: 'replace',
      before: { 'pod.yaml': POD(6379) },
      after: { 'pod.yaml': POD(6380) },
      status: 1,
    },
    {
      name: 'delete',
      before: { 'service.yaml': SERVICE, 'pod.yaml': POD(6379) },
      after: {},
      removed: ['pod.yaml'],
      status: 1,
    },
    {
      name: 'in-sync',
      before: { 'service.yaml': SERVICE, 'rc.yaml': RC(3) },
      after: { 'README.md': 'not a manifest\n' },
      status: 0,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.status}`, async () => {
      const repo = twoCommits(c.name, c.before, c.after, c.removed);
      const run = await berth(['diff', repo, '--from', 'from', '--to', 'to']);
      expect(run.stderr).toBe('');
      await expect(run.stdout).toMatchFileSnapshot(`../fixtures/diff/${c.name}.txt`);
      expect(run.status).toBe(c.status);
    });
  }

  it('mixes changes, services first and deletions last, with the summary counting each', async () => {
    const repo = twoCommits(
      'mixed',
      { 'rc.yaml': RC(3), 'pod.yaml': POD(6379) },
      { 'rc.yaml': RC(3, 'nginx:1.27'), 'service.yaml': SERVICE },
      ['pod.yaml'],
    );
    const run = await berth(['diff', repo, '--from', 'from', '--to', 'to']);
    const headers = run.stdout.split('\n').filter((line) => /^(\+|~|-\/\+|-) [a-z]+\//.test(line));
    expect(headers).toEqual([
      '+ service/frontend (create: new in git)',
      '~ replicationcontroller/frontend (update: spec.template.spec.containers[0].image: nginx:1.25 → nginx:1.27)',
      '- pod/redis (delete: left git)',
    ]);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(
      '1 to create, 1 to update, 0 to replace, 1 to delete',
    );
    expect(run.status).toBe(1);
  });
});

describe('berth diff colours only a terminal without NO_COLOR', () => {
  let repo: string;
  beforeAll(() => {
    repo = twoCommits('colour', { 'rc.yaml': RC(3) }, { 'rc.yaml': RC(4) });
  });
  const args = () => ['diff', repo, '--from', 'from', '--to', 'to'];

  it('is plain when stdout is not a terminal', async () => {
    const run = await berth(args(), { tty: false });
    expect(run.stdout).toContain('-  replicas: 3\n+  replicas: 4\n');
    expect(run.stdout).not.toContain('\u001b[');
  });

  it('colours removed lines red, added green and headers cyan on a terminal', async () => {
    const run = await berth(args(), { tty: true });
    expect(run.stdout).toContain('\u001b[31m-  replicas: 3\u001b[0m');
    expect(run.stdout).toContain('\u001b[32m+  replicas: 4\u001b[0m');
    expect(run.stdout).toContain(
      '\u001b[36m~ replicationcontroller/frontend (update: spec.replicas: 3 → 4)\u001b[0m',
    );
  });

  it('is plain on a terminal when NO_COLOR is set', async () => {
    const run = await berth(args(), { tty: true, env: { NO_COLOR: '1' } });
    expect(run.stdout).not.toContain('\u001b[');
    expect(run.status).toBe(1);
  });

  it('prints the plan as data with -o json', async () => {
    const run = await berth([...args(), '-o', 'json']);
    const report = JSON.parse(run.stdout) as {
      from: { ref: string; commit: string };
      to: { ref: string; commit: string };
      summary: Record<string, number>;
      changes: { action: string; kind: string; name: string; reason: string }[];
    };
    expect(report.from).toEqual({ ref: 'from', commit: git(repo, 'rev-parse', 'from') });
    expect(report.to).toEqual({ ref: 'to', commit: git(repo, 'rev-parse', 'to') });
    expect(report.summary).toEqual({ create: 0, update: 1, replace: 0, delete: 0, unchanged: 0 });
    expect(report.changes.map((c) => [c.action, c.kind, c.name, c.reason])).toEqual([
      ['update', 'ReplicationController', 'frontend', 'spec.replicas: 3 → 4'],
    ]);
    expect(run.status).toBe(1);
  });
});

describe('berth diff with nothing left at --to', () => {
  it('shows every deletion rather than refusing (a diff carries nothing out)', async () => {
    const repo = twoCommits('empty', { 'rc.yaml': RC(3) }, {}, ['rc.yaml']);
    const run = await berth(['diff', repo, '--from', 'from', '--to', 'to']);
    expect(run.stdout).toContain('- replicationcontroller/frontend (delete: left git)\n');
    expect(run.stdout).toContain('0 to create, 0 to update, 0 to replace, 1 to delete\n');
    expect(run.status).toBe(1);
  });

  it('exits 2 with the message when the planner refuses', async () => {
    const repo = twoCommits('refused', { 'rc.yaml': RC(3) }, { 'rc.yaml': RC(4) });
    let stdout = '';
    let stderr = '';
    const sink = (append: (text: string) => void) =>
      new Writable({
        write(chunk: Buffer | string, _encoding, done) {
          append(chunk.toString());
          done();
        },
      });
    const status = await runDiff(
      [repo, '--from', 'from', '--to', 'to'],
      {
        stdout: sink((t) => {
          stdout += t;
        }),
        stderr: sink((t) => {
          stderr += t;
        }),
        env: {},
        cwd: process.cwd(),
      },
      {
        plan: () => ({
          refused: true,
          code: 'PLAN_DELETES_EVERYTHING',
          message: 'refusing a plan that deletes all 1 objects',
          deletions: [],
        }),
      },
    );
    expect(stdout).toBe('');
    expect(stderr).toBe('berth: refusing a plan that deletes all 1 objects\n');
    expect(status).toBe(2);
  });
});

describe('berth diff errors exit 2', () => {
  it('reports invalid manifests at either commit as validate does, and compares nothing', async () => {
    const repo = twoCommits(
      'invalid',
      { 'rc.yaml': RC(3) },
      { 'rc.yaml': RC(3).replace('replicas: 3', 'replicas: three') },
    );
    const run = await berth(['diff', repo, '--from', 'from', '--to', 'to']);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^to: .*rc\.yaml:8:\d+: replicationcontroller\/frontend: spec\.replicas: /m,
    );
    expect(run.stderr).toMatch(/^invalid: 1 problem; nothing compared$/m);
    expect(run.status).toBe(2);
  });

  it('without --from/--to diffs against live state: a missing SOURCE is an error', async () => {
    const run = await berth(['diff', `${temp.path}/no-such-source/`, '--data-dir', temp.path]);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('no-such-source');
    expect(run.status).toBe(2);
  });

  it('needs both --from and --to', async () => {
    const run = await berth(['diff', 'guestbook/', '--from', 'main']);
    expect(run.stderr).toContain('needs both --from and --to');
    expect(run.status).toBe(2);
  });

  it('names an unknown ref', async () => {
    const repo = twoCommits('unknown-ref', { 'rc.yaml': RC(3) }, { 'rc.yaml': RC(4) });
    const run = await berth(['diff', repo, '--from', 'nope', '--to', 'to']);
    expect(run.stderr).toContain('nope');
    expect(run.status).toBe(2);
  });
});

describe('the installed berth diff', () => {
  it('exits 1 on differences and 0 in sync, plain when not a terminal', () => {
    const repo = twoCommits('installed', { 'rc.yaml': RC(3) }, { 'rc.yaml': RC(4) });
    const changed = runBerth(['diff', repo, '--from', 'from', '--to', 'to']);
    expect(changed.stdout).toContain('0 to create, 1 to update, 0 to replace, 0 to delete');
    expect(changed.stdout).not.toContain('\u001b[');
    expect(changed.status).toBe(1);
    const same = runBerth(['diff', repo, '--from', 'to', '--to', 'to']);
    expect(same.stdout).toBe('in sync: 1 object\n');
    expect(same.status).toBe(0);
  });
});
