import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBerth } from '../helpers/run-berth.js';

const VALID_POD = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
    - name: main
      image: busybox:1.36
      ports:
        - containerPort: 80
`;

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-validate-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** A directory source holding the given files; returns its path relative to workDir. */
function source(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = path.join(workDir, name);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return name;
}

describe('berth validate on the shipped repositories', () => {
  for (const dir of ['guestbook', 'wordpress', 'examples']) {
    it(`accepts ${dir}/ with exit 0`, () => {
      const run = runBerth(['validate', `${dir}/`]);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^valid: \d+ objects? in \d+ files?/);
      expect(run.status).toBe(0);
    });
  }

  it("reads guestbook/'s six manifests; frontend/ (source and image recipe) is left to .berthignore", () => {
    const run = runBerth(['validate', 'guestbook', '-o', 'json']);
    expect(run.status).toBe(0);
    const output = JSON.parse(run.stdout) as { files: number; objects: { file: string }[] };
    expect(output.files).toBe(6);
    const files = output.objects.map((object) => object.file).sort();
    expect(files).toEqual([
      'guestbook/frontend-controller.yaml',
      'guestbook/frontend-service.yaml',
      'guestbook/redis-master-controller.yaml',
      'guestbook/redis-master-service.yaml',
      'guestbook/redis-replica-controller.yaml',
      'guestbook/redis-replica-service.yaml',
    ]);
  });
});

describe('berth validate reports each kind of bad input as file:line:col: kind/name: field: message', () => {
  const cases: { name: string; files: Record<string, string | Uint8Array>; expected: RegExp[] }[] =
    [
      {
        name: 'yaml-syntax-error',
        files: { 'bad.yaml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n' },
        expected: [/^yaml-syntax-error\/bad\.yaml:\d+:\d+: .+/m],
      },
      {
        name: 'duplicate-key',
        files: { 'dup.yaml': 'apiVersion: v1\nkind: Pod\nkind: Service\nmetadata:\n  name: a\n' },
        expected: [/^duplicate-key\/dup\.yaml:3:1: .*kind.*/m],
      },
      {
        name: 'alias-bomb',
        files: {
          'bomb.yaml': `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
`,
        },
        expected: [/^alias-bomb\/bomb\.yaml:\d+:\d+: .*alias.*/im],
      },
      {
        name: 'binary-file',
        files: { 'image.yaml': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1, 2, 3]) },
        expected: [/^binary-file\/image\.yaml:1:\d+: .*binary.*/im],
      },
      {
        name: 'not-utf8',
        files: {
          'latin1.yaml': new Uint8Array([
            ...Buffer.from('apiVersion: v1\nkind: Pod\n# caf'),
            0xe9,
            0x0a,
          ]),
        },
        expected: [/^not-utf8\/latin1\.yaml:3:\d+: .*UTF-8.*/m],
      },
      {
        name: 'unknown-kind',
        files: { 'deploy.yaml': 'apiVersion: v1\nkind: Deployment\nmetadata:\n  name: a\n' },
        expected: [
          /^unknown-kind\/deploy\.yaml:2:\d+: .*Deployment.*Pod.*ReplicationController.*Service/m,
        ],
      },
      {
        name: 'api-version',
        files: { 'pod.yaml': VALID_POD.replace('apiVersion: v1', 'apiVersion: apps/v1') },
        expected: [/^api-version\/pod\.yaml:1:\d+: .*v1/m],
      },
      {
        name: 'wrong-type',
        files: {
          'pod.yaml': VALID_POD.replace(
            '      ports:',
            '      env:\n        - name: PORT\n          value: 8080\n      ports:',
          ),
        },
        expected: [
          /^wrong-type\/pod\.yaml:13:\d+: pod\/web: spec\.containers\[0\]\.env\[0\]\.value: .*string.*"8080"/m,
        ],
      },
      {
        name: 'unknown-field',
        files: { 'pod.yaml': VALID_POD.replace('      image:', '      imagee: x\n      image:') },
        expected: [
          /^unknown-field\/pod\.yaml:10:7: pod\/web: spec\.containers\[0\]\.imagee: .*unknown field.*image/m,
        ],
      },
      {
        name: 'bad-name',
        files: { 'pod.yaml': VALID_POD.replace('name: web', 'name: Web_Server') },
        expected: [/^bad-name\/pod\.yaml:4:\d+: pod\/Web_Server: metadata\.name: .*DNS-1123.*/m],
      },
      {
        name: 'selector-mismatch',
        files: {
          'rc.yaml': `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  selector:
    app: web
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: main
          image: busybox:1.36
`,
        },
        expected: [
          /^selector-mismatch\/rc\.yaml:\d+:\d+: replicationcontroller\/web: spec\.(selector|template).*/m,
        ],
      },
      {
        name: 'duplicate-object',
        files: { 'a.yaml': VALID_POD, 'b.yaml': VALID_POD },
        expected: [
          /^duplicate-object\/a\.yaml:\d+:\d+: pod\/web: .*duplicate.*b\.yaml/m,
          /^duplicate-object\/b\.yaml:\d+:\d+: pod\/web: .*duplicate.*a\.yaml/m,
        ],
      },
    ];

  for (const testCase of cases) {
    it(`refuses ${testCase.name} with exit 2`, () => {
      const dir = source(testCase.name, testCase.files);
      const run = runBerth(['validate', dir], { cwd: workDir });
      for (const pattern of testCase.expected) expect(run.stdout).toMatch(pattern);
      expect(run.stderr).toMatch(/^invalid: \d+ problems? in/m);
      expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(run.status).toBe(2);
    });
  }

  it('prints every problem, not just the first, sorted by file and line', () => {
    const dir = source('many-problems', {
      'b.yaml': VALID_POD.replace('name: web', 'name: B_'),
      'a.yaml': VALID_POD.replace('name: web', 'name: A_').replace(
        'image: busybox:1.36',
        'image: ""',
      ),
    });
    const run = runBerth(['validate', dir], { cwd: workDir });
    const lines = run.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const files = lines.map((line) => line.slice(0, line.indexOf(':')));
    expect(files).toEqual([...files].sort());
    expect(run.status).toBe(2);
  });

  it('ignores empty documents and files that are not manifests', () => {
    const dir = source('empty-docs', {
      'pod.yaml': `---\n# only a comment\n---\n${VALID_POD}---\n`,
      'notes.txt': 'kind: nonsense',
      'empty.yml': '',
    });
    const run = runBerth(['validate', dir], { cwd: workDir });
    expect(run.stderr).toMatch(/^valid: 1 object in 2 files/);
    expect(run.status).toBe(0);
  });

  it('refuses a file over --max-file-size, naming the limit', () => {
    const dir = source('too-large', { 'pod.yaml': VALID_POD });
    const run = runBerth(['validate', dir, '--max-file-size', '100'], { cwd: workDir });
    expect(run.stdout).toMatch(/^too-large\/pod\.yaml:1:1: .*100 bytes.*--max-file-size/m);
    expect(run.status).toBe(2);
  });

  it('gives -o json with problems as data', () => {
    const dir = source('json-out', { 'pod.yaml': VALID_POD.replace('name: web', 'name: Bad') });
    const run = runBerth(['validate', dir, '-o', 'json'], { cwd: workDir });
    const report = JSON.parse(run.stdout) as {
      valid: boolean;
      problems: { code: string; field: string }[];
    };
    expect(report.valid).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ code: 'name.invalid', field: 'metadata.name' }),
    );
    expect(run.status).toBe(2);
  });
});

describe('berth validate on sources that cannot be read', () => {
  it('names a directory that does not exist', () => {
    const run = runBerth(['validate', 'no-such-dir'], { cwd: workDir });
    expect(run.stderr).toMatch(/no-such-dir/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.status).toBe(2);
  });

  it('names a ref that does not exist and lists the branches', () => {
    const repo = path.join(workDir, 'repo');
    mkdirSync(repo);
    writeFileSync(path.join(repo, 'pod.yaml'), VALID_POD);
    const env = {
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t.invalid',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t.invalid',
    };
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
    execFileSync('git', ['add', '-A'], { cwd: repo });
    execFileSync('git', ['commit', '-qm', 'pod'], { cwd: repo, env: { ...process.env, ...env } });
    const ok = runBerth(['validate', 'repo', '--ref', 'main'], { cwd: workDir });
    expect(ok.status).toBe(0);
    const run = runBerth(['validate', 'repo', '--ref', 'nope'], { cwd: workDir });
    expect(run.stderr).toMatch(/nope/);
    expect(run.stderr).toMatch(/main/);
    expect(run.status).toBe(2);
    const badPath = runBerth(['validate', 'repo', '--ref', 'main', '--path', 'missing'], {
      cwd: workDir,
    });
    expect(badPath.stderr).toMatch(/missing/);
    expect(badPath.status).toBe(2);
  });

  it('says a URL cannot be reached, with the URL', async () => {
    // A port on loopback that nothing listens on: bind, learn the port, close.
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address() as net.AddressInfo;
        server.close(() => resolve(address.port));
      });
    });
    const url = `http://127.0.0.1:${port}/repo.git`;
    const run = runBerth(['validate', url, '--cache-dir', path.join(workDir, 'cache')], {
      cwd: workDir,
    });
    expect(run.stderr).toContain(url);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.status).toBe(2);
  });

  it('rejects unknown flags with a usage message', () => {
    const run = runBerth(['validate', '.', '--bogus']);
    expect(run.stderr).toMatch(/bogus/);
    expect(run.status).toBe(2);
  });
});
