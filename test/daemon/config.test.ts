import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INTERVAL_MS,
  formatConfigProblem,
  parseAppsConfig,
} from '../../operator/daemon/index.js';

const FILE = '/srv/berth/berth.yaml';

/** The problems of `text` as berth prints them. */
function problems(text: string, file = FILE): string[] {
  return parseAppsConfig(text, file).problems.map(formatConfigProblem);
}

describe('parseAppsConfig: a valid file', () => {
  const text = `# apps kept in sync by berth serve
apps:
  - name: guestbook
    source: https://example.test/org/guestbook.git
    ref: main
    path: manifests/
    interval: 5m
    prune: false
    selfHeal: false
  - name: local
    source: ../repos/local
  - name: bare
    source: /srv/repos/bare.git
    path: ./deploy/prod/
  - name: plain
    source: https://example.test/org/plain
webhook:
  secret: a long and random secret
`;

  it('reads every app with its settings and defaults', () => {
    const { config, problems } = parseAppsConfig(text, FILE);
    expect(problems).toEqual([]);
    expect(config).toEqual({
      apps: [
        {
          name: 'guestbook',
          source: 'https://example.test/org/guestbook.git',
          sourceKind: 'url',
          ref: 'main',
          path: 'manifests',
          intervalMs: 300_000,
          prune: false,
          selfHeal: false,
          origin: { file: FILE, line: 3, column: 5 },
        },
        {
          name: 'local',
          source: '/srv/repos/local',
          sourceKind: 'path',
          prune: true,
          selfHeal: true,
          origin: { file: FILE, line: 10, column: 5 },
        },
        {
          name: 'bare',
          source: '/srv/repos/bare.git',
          sourceKind: 'path',
          path: 'deploy/prod',
          prune: true,
          selfHeal: true,
          origin: { file: FILE, line: 12, column: 5 },
        },
        {
          name: 'plain',
          source: 'https://example.test/org/plain',
          sourceKind: 'url',
          intervalMs: DEFAULT_INTERVAL_MS,
          prune: true,
          selfHeal: true,
          origin: { file: FILE, line: 15, column: 5 },
        },
      ],
      webhook: { secret: 'a long and random secret' },
    });
    expect(DEFAULT_INTERVAL_MS).toBe(60_000);
  });

  it('resolves secretFile and relative sources against the file, relative when the file is', () => {
    const { config, problems } = parseAppsConfig(
      'apps:\n  - name: a\n    source: repo\nwebhook:\n  secretFile: secrets/hook\n',
      'conf/berth.yaml',
    );
    expect(problems).toEqual([]);
    expect(config.apps[0]?.source).toBe('conf/repo');
    expect(config.webhook).toEqual({ secretFile: 'conf/secrets/hook' });
  });

  it('takes plain http to this machine, and bare numbers of seconds', () => {
    const { config, problems } = parseAppsConfig(
      'apps:\n  - name: a\n    source: http://127.0.0.1:7070/git/a.git\n    interval: 90\n',
      FILE,
    );
    expect(problems).toEqual([]);
    expect(config.apps[0]).toMatchObject({ sourceKind: 'url', intervalMs: 90_000 });
  });

  it('reads an empty file, a comment-only file and an empty list as no apps', () => {
    for (const empty of ['', '# nothing yet\n', 'apps:\n', 'apps: []\n']) {
      expect(parseAppsConfig(empty, FILE)).toEqual({ config: { apps: [] }, problems: [] });
    }
  });

  it('follows YAML aliases', () => {
    const { config, problems } = parseAppsConfig(
      'apps:\n  - name: a\n    source: &repo https://example.test/r.git\n  - name: b\n    source: *repo\n    ref: dev\n',
      FILE,
    );
    expect(problems).toEqual([]);
    expect(config.apps.map((app) => [app.name, app.source])).toEqual([
      ['a', 'https://example.test/r.git'],
      ['b', 'https://example.test/r.git'],
    ]);
  });
});

describe('parseAppsConfig: problems', () => {
  it('reports a bad duration where it is written', () => {
    expect(
      problems(
        'apps:\n  - name: guestbook\n    source: https://example.test/g.git\n    interval: 6x\n',
      ),
    ).toEqual([`${FILE}:4:15: apps[0].interval: "6x" is not a duration; e.g. 60s, 5m`]);
  });

  it('reports durations under a second', () => {
    expect(
      problems('apps:\n  - name: g\n    source: https://example.test/g.git\n    interval: 500ms\n'),
    ).toEqual([`${FILE}:4:15: apps[0].interval: "500ms" is too short; at least 1s`]);
  });

  it('reports an interval on a local source', () => {
    expect(problems('apps:\n  - name: g\n    source: ./repo\n    interval: 30s\n')).toEqual([
      `${FILE}:4:5: apps[0].interval: only https sources are fetched on an interval; local repositories are watched`,
    ]);
  });

  it('reports unknown keys at every level', () => {
    expect(
      problems(
        'apps:\n  - name: g\n    source: ./repo\n    selfheal: true\nwebhook:\n  token: x\nversion: 1\n',
      ),
    ).toEqual([
      `${FILE}:4:5: apps[0].selfheal: unknown key; expected one of name, source, ref, path, interval, prune, selfHeal`,
      `${FILE}:6:3: webhook.token: unknown key; expected one of secret, secretFile`,
      `${FILE}:6:3: webhook: missing "secret" or "secretFile"`,
      `${FILE}:7:1: version: unknown key; expected one of apps, webhook`,
    ]);
  });

  it('reports keys given twice', () => {
    expect(problems('apps:\n  - name: g\n    source: ./a\n    source: ./b\n')).toEqual([
      `${FILE}:4:5: apps[0].source: given twice; first at line 3`,
    ]);
  });

  it('reports wrong types', () => {
    expect(
      problems(
        'apps:\n  - name: g\n    source: ./a\n    ref: 1.0\n    prune: yes\n    selfHeal: {on: 1}\n    path: [a]\n',
      ),
    ).toEqual([
      `${FILE}:4:10: apps[0].ref: 1.0 is not a string; write "1.0"`,
      `${FILE}:5:12: apps[0].prune: "yes" is not true or false`,
      `${FILE}:6:15: apps[0].selfHeal: must be true or false`,
      `${FILE}:7:11: apps[0].path: must be a string; e.g. manifests/`,
    ]);
    expect(problems('apps: guestbook\n')).toEqual([`${FILE}:1:7: apps: must be a list of apps`]);
    expect(problems('apps:\n  - guestbook\n')).toEqual([
      `${FILE}:2:5: apps[0]: must be a mapping (name, source, ref, ...)`,
    ]);
    expect(problems('- apps\n')).toEqual([`${FILE}:1:1: must be a mapping (apps and webhook)`]);
  });

  it('reports missing names and sources', () => {
    expect(problems('apps:\n  - ref: main\n')).toEqual([
      `${FILE}:2:5: apps[0]: missing "name"`,
      `${FILE}:2:5: apps[0]: missing "source" (an https URL or a path)`,
    ]);
  });

  it('reports duplicate app names at the second one', () => {
    expect(
      problems(
        'apps:\n  - name: g\n    source: ./a\n  - name: h\n    source: ./b\n  - name: g\n    source: ./c\n',
      ),
    ).toEqual([`${FILE}:6:11: apps[2].name: "g" is already the name of apps[0]`]);
  });

  it('reports invalid app names with the rule', () => {
    expect(
      problems(
        `apps:\n  - name: Guest_Book\n    source: ./a\n  - name: ${'a'.repeat(64)}\n    source: ./b\n`,
      ),
    ).toEqual([
      `${FILE}:2:11: apps[0].name: "Guest_Book" is not a valid app name; use lowercase letters, digits and "-", at most 63 characters`,
      `${FILE}:4:11: apps[1].name: "${'a'.repeat(64)}" is not a valid app name; use lowercase letters, digits and "-", at most 63 characters`,
    ]);
  });

  it('reports sources berth cannot fetch', () => {
    expect(
      problems(
        [
          'apps:',
          '  - name: a',
          '    source: http://example.test/a.git',
          '  - name: b',
          '    source: ssh://git@example.test/b.git',
          '  - name: c',
          '    source: git@example.test:org/c.git',
          '  - name: d',
          '    source: ""',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      `${FILE}:3:13: apps[0].source: plain http is only accepted for this machine (127.0.0.1, ::1, localhost); use https`,
      `${FILE}:5:13: apps[1].source: ssh URLs are not supported; use an https URL or a local path`,
      `${FILE}:7:13: apps[2].source: "git@example.test:org/c.git" is an ssh address; berth fetches over https only`,
      `${FILE}:9:13: apps[3].source: is empty; give an https URL or a path`,
    ]);
  });

  it('reports manifest paths outside the repository', () => {
    expect(
      problems(
        'apps:\n  - name: a\n    source: ./a\n    path: ../x\n  - name: b\n    source: ./b\n    path: /etc\n',
      ),
    ).toEqual([
      `${FILE}:4:11: apps[0].path: "../x" leaves the repository`,
      `${FILE}:7:11: apps[1].path: "/etc" must be relative to the repository root`,
    ]);
  });

  it('reports webhook secrets given twice or empty', () => {
    expect(problems('webhook:\n  secret: s\n  secretFile: f\n')).toEqual([
      `${FILE}:3:3: webhook.secretFile: give secret or secretFile, not both`,
    ]);
    expect(problems("webhook:\n  secret: ''\n")).toEqual([
      `${FILE}:2:11: webhook.secret: is empty`,
    ]);
  });

  it('reports YAML syntax errors with their position, and nothing else', () => {
    expect(problems('apps:\n  - name: a\n    source: [unclosed\n  - name: b\n')).toEqual([
      `${FILE}:4:3: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
    expect(problems('apps:\n  - name: "a\n')).toEqual([`${FILE}:3:1: Missing closing "quote`]);
    expect(problems('a: 1\n---\nb: 2\n')).toEqual([
      `${FILE}:2:1: Source contains multiple documents; please use YAML.parseAllDocuments()`,
    ]);
  });

  it('keeps the apps without problems in the config, and lists the problems sorted', () => {
    const { config, problems: found } = parseAppsConfig(
      'apps:\n  - name: good\n    source: ./good\n  - name: Bad\n    source: ./bad\n    prune: 1\n',
      FILE,
    );
    expect(config.apps.map((app) => app.name)).toEqual(['good']);
    expect(found.map((problem) => [problem.code, problem.field, problem.origin.line])).toEqual([
      ['config.app-name', 'apps[1].name', 4],
      ['config.type', 'apps[1].prune', 6],
    ]);
  });
});
