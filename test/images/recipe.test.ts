import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipes, REPO_ROOT, systemToolsFirst } from '../../images/builder.js';
import { mmdebstrapPlan, phaseOfLine, shellQuote } from '../../images/mmdebstrap.js';
import {
  BUILDER_FORMAT_VERSION,
  dockerfileQuote,
  formatProblem,
  importChanges,
  parseRecipe,
  type Recipe,
  recipeHash,
} from '../../images/recipe.js';

const GOOD = `image: redis:7.0
packages: [redis-server]
files:
  - from: docker-entrypoint.sh
    to: /usr/local/bin/docker-entrypoint.sh
    mode: "0755"
run: |
  mkdir -p /data
config:
  entrypoint: ["docker-entrypoint.sh"]
  cmd: ["redis-server"]
  env: {PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
  expose: ["6379/tcp"]
  workdir: /data
  volumes: ["/data"]
`;

function parse(text: string, present: string[] = ['docker-entrypoint.sh', 'image.yaml']) {
  return parseRecipe(text, 'images/redis/image.yaml', present);
}

function problems(text: string, present?: string[]): string[] {
  const result = parse(text, present);
  if (result.ok) throw new Error('expected problems, the recipe parsed');
  return result.problems.map(formatProblem);
}

describe('parseRecipe', () => {
  it('reads the shared recipe format', () => {
    const result = parse(GOOD);
    expect(result).toEqual({
      ok: true,
      recipe: {
        image: 'redis:7.0',
        packages: ['redis-server'],
        files: [
          { from: 'docker-entrypoint.sh', to: '/usr/local/bin/docker-entrypoint.sh', mode: '0755' },
        ],
        run: 'mkdir -p /data\n',
        config: {
          entrypoint: ['docker-entrypoint.sh'],
          cmd: ['redis-server'],
          env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
          expose: ['6379/tcp'],
          workdir: '/data',
          volumes: ['/data'],
          labels: {},
        },
      },
    });
  });

  it('needs only image and packages; a file mode defaults to 0644', () => {
    const result = parse(
      'image: berth/guestbook-frontend:1\npackages: []\nfiles:\n  - {from: a.php, to: /srv/a.php}\n',
      ['a.php'],
    );
    expect(result.ok && result.recipe.files).toEqual([
      { from: 'a.php', to: '/srv/a.php', mode: '0644' },
    ]);
    expect(result.ok && result.recipe.config).toEqual({
      env: {},
      expose: [],
      volumes: [],
      labels: {},
    });
  });

  it('names file, line and column of each problem', () => {
    const text = [
      'image: Redis', // 1
      'packages: [redis-server, "Bad Name"]', // 2
      'files:', // 3
      '  - from: missing.sh', // 4
      '    to: usr/local/bin/x', // 5
      '    mode: 0755', // 6
      'config:', // 7
      '  cmd: redis-server', // 8
      '  expose: ["6379/tcpx"]', // 9
      '  entrypiont: ["x"]', // 10
      'extra: 1', // 11
    ].join('\n');
    expect(problems(text)).toEqual([
      'images/redis/image.yaml:1:8: image: must be name:tag, e.g. redis:7.0 (lower-case name, tag required)',
      'images/redis/image.yaml:2:26: packages[1]: not a Debian package name',
      'images/redis/image.yaml:4:11: files[0].from: no file missing.sh in the recipe directory',
      'images/redis/image.yaml:5:9: files[0].to: must be an absolute file path in the image',
      'images/redis/image.yaml:6:11: files[0].mode: must be a quoted octal string like "0755" (YAML reads 0755 unquoted as a decimal number)',
      'images/redis/image.yaml:8:8: config.cmd: must be a list of strings',
      'images/redis/image.yaml:9:12: config.expose[0]: must be like 6379/tcp',
      'images/redis/image.yaml:10:3: config: unknown field "entrypiont" (known: entrypoint, cmd, env, expose, workdir, volumes, user, stopsignal, labels)',
      'images/redis/image.yaml:11:1: unknown field "extra" (known: image, variant, packages, files, run, config)',
    ]);
  });

  it('reports YAML syntax errors and missing fields at their place', () => {
    expect(problems('image: [redis\n')).toEqual([
      expect.stringMatching(/^images\/redis\/image\.yaml:\d+:\d+: YAML: /),
    ]);
    expect(problems('packages: [redis-server]\n')).toEqual([
      'images/redis/image.yaml:1:1: image: required (name:tag)',
    ]);
    expect(problems('- image: redis:7.0\n')).toEqual([
      'images/redis/image.yaml:1:1: a recipe is a mapping with image, variant, packages, files, run and config',
    ]);
    expect(problems('image: redis:7.0\npackages: [x1]\nconfig:\n  env: {A: 1}\n')).toEqual([
      'images/redis/image.yaml:4:12: config.env.A: must be a quoted string on one line',
    ]);
  });

  it('reads variant extract; absent, the recipe has no variant (essential)', () => {
    const text = 'image: busybox:1.35\nvariant: extract\npackages: [busybox-static]\n';
    const result = parse(text);
    expect(result.ok && result.recipe).toEqual({
      image: 'busybox:1.35',
      variant: 'extract',
      packages: ['busybox-static'],
      files: [],
      config: { env: {}, expose: [], volumes: [], labels: {} },
    });
    const essential = parse('image: a:1\nvariant: essential\npackages: []\n');
    expect(essential.ok && essential.recipe.variant).toBe('essential');
    const absent = parse(GOOD);
    expect(absent.ok && 'variant' in absent.recipe).toBe(false);
  });

  it('refuses an unknown variant, and extract with no packages', () => {
    expect(problems('image: a:1\nvariant: minbase\npackages: [x1]\n')).toEqual([
      'images/redis/image.yaml:2:10: variant: must be one of essential, extract',
    ]);
    expect(problems('image: a:1\nvariant: [extract]\npackages: [x1]\n')).toEqual([
      'images/redis/image.yaml:2:10: variant: must be one of essential, extract',
    ]);
    expect(problems('image: a:1\nvariant: extract\npackages: []\n')).toEqual([
      'images/redis/image.yaml:3:11: packages: variant extract unpacks only the listed packages; list one',
    ]);
  });

  it('refuses file sources outside the recipe directory', () => {
    expect(
      problems('image: a:1\npackages: []\nfiles:\n  - {from: ../x, to: /x}\n', ['../x']),
    ).toEqual([
      'images/redis/image.yaml:4:12: files[0].from: must be a path inside the recipe directory',
    ]);
  });
});

describe('recipeHash', () => {
  const files = [
    { path: 'image.yaml', content: Buffer.from(GOOD) },
    { path: 'docker-entrypoint.sh', content: Buffer.from('#!/bin/sh\nexec "$@"\n') },
  ];

  it('is stable: same files in any order, same hash (a pinned value)', () => {
    const hash = recipeHash(files);
    expect(hash).toBe(recipeHash([...files].reverse()));
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Pinned: changing the hashing rebuilds every image, so it must be a deliberate change
    // (bump BUILDER_FORMAT_VERSION with it).
    expect(BUILDER_FORMAT_VERSION).toBe('berth-image-builder/1 bookworm essential');
    expect(hash).toBe('sha256:3f88eeac12920b883ed06b3ca0ba38de99bea792a4b00204091d4ee4735206b5');
  });

  it('changes with any byte, any name, and when content moves between files', () => {
    const hash = recipeHash(files);
    const changed = [files[0]!, { ...files[1]!, content: Buffer.from('#!/bin/sh\nexec "$@" \n') }];
    expect(recipeHash(changed)).not.toBe(hash);
    expect(recipeHash([files[0]!, { ...files[1]!, path: 'entrypoint.sh' }])).not.toBe(hash);
    const split = [
      { path: 'a', content: Buffer.from('xy') },
      { path: 'b', content: Buffer.from('') },
    ];
    const moved = [
      { path: 'a', content: Buffer.from('x') },
      { path: 'b', content: Buffer.from('y') },
    ];
    expect(recipeHash(split)).not.toBe(recipeHash(moved));
  });
});

describe('importChanges', () => {
  it('turns config into docker import --change lines, the recipe label last', () => {
    const result = parse(GOOD);
    if (!result.ok) throw new Error('recipe did not parse');
    expect(importChanges(result.recipe, 'sha256:abc')).toEqual([
      'ENV PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
      'WORKDIR /data',
      'EXPOSE 6379/tcp',
      'VOLUME ["/data"]',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["redis-server"]',
      'LABEL io.berth.recipe=sha256:abc',
    ]);
  });

  it('quotes values so Docker neither splits nor expands them', () => {
    expect(dockerfileQuote('a b "c" $HOME \\')).toBe('"a b \\"c\\" \\$HOME \\\\"');
  });
});

describe('mmdebstrapPlan', () => {
  const recipe: Recipe = {
    image: 'redis:7.0',
    packages: ['redis-server', 'redis-tools'],
    files: [{ from: "it's.sh", to: '/usr/local/bin/x', mode: '0755' }],
    run: 'mkdir -p /data\n',
    config: { env: {}, expose: [], volumes: [], labels: {} },
  };
  const paths = {
    recipeDir: '/repo/images/redis',
    aptCache: '/root/.cache/berth/apt',
    debsOut: '/tmp/w/debs',
    customizeScript: '/tmp/w/customize.sh',
    runScript: '/tmp/w/run.sh',
    tarball: '/tmp/w/rootfs.tar',
  };

  it('builds an essential bookworm tarball with the packages, docs left out, the cache synced in', () => {
    const plan = mmdebstrapPlan(recipe, paths);
    expect(plan.args).toContain('--variant=essential');
    expect(plan.args).toContain('--include=redis-server,redis-tools');
    expect(plan.args).toContain('--dpkgopt=path-exclude=/usr/share/doc/*');
    expect(plan.args).toContain('--dpkgopt=path-exclude=/usr/share/man/*');
    expect(plan.args).toContain('--dpkgopt=path-exclude=/usr/share/locale/*');
    expect(plan.args).toContain(
      '--setup-hook=sync-in /root/.cache/berth/apt /var/cache/apt/archives/',
    );
    expect(plan.args).toContain('--customize-hook=/tmp/w/customize.sh');
    expect(plan.args.slice(-2)).toEqual(['bookworm', '/tmp/w/rootfs.tar']);
  });

  it('saves the packages first, then copies files, then runs the script in the chroot', () => {
    const script = mmdebstrapPlan(recipe, paths).customizeScriptText;
    const save = script.indexOf('cp "$deb" \'/tmp/w/debs\'/');
    const copy = script.indexOf(`cp '/repo/images/redis/it'\\''s.sh' "$root"'/usr/local/bin/x'`);
    const run = script.indexOf('chroot "$root"');
    expect(save).toBeGreaterThan(0);
    expect(copy).toBeGreaterThan(save);
    expect(script).toContain(`chmod 0755 "$root"'/usr/local/bin/x'`);
    expect(run).toBeGreaterThan(copy);
    expect(mmdebstrapPlan(recipe, paths).runScriptText).toBe('set -e\ncd /\nmkdir -p /data\n');
  });

  it('extract: unpacks the packages only, its hook removes apt and dpkg, runs under busybox sh when there is no /bin/sh', () => {
    const extract: Recipe = {
      image: 'busybox:1.35',
      variant: 'extract',
      packages: ['busybox-static'],
      files: [],
      run: '/bin/busybox --install -s\n',
      config: { env: {}, expose: [], volumes: [], labels: {} },
    };
    const plan = mmdebstrapPlan(extract, paths);
    expect(plan.args).toContain('--variant=extract');
    expect(plan.args).not.toContain('--variant=essential');
    expect(plan.args).toContain('--include=busybox-static');
    expect(plan.args).toContain('--extract-hook=/tmp/w/customize.sh');
    expect(plan.args.some((arg) => arg.startsWith('--customize-hook'))).toBe(false);
    expect(plan.args).toEqual(expect.arrayContaining(['--skip=cleanup/apt', '--skip=output/dev']));
    expect(plan.args).toContain('--dpkgopt=path-exclude=/usr/share/doc/*');
    expect(plan.args.slice(-2)).toEqual(['bookworm', '/tmp/w/rootfs.tar']);
    const script = plan.customizeScriptText;
    const save = script.indexOf('cp "$deb" \'/tmp/w/debs\'/');
    const scaffolding = script.indexOf(`rm -rf "$root"'/etc/apt'`);
    const run = script.indexOf('chroot "$root" "$@" -e /tmp/berth-recipe-run.sh');
    expect(save).toBeGreaterThan(0);
    expect(scaffolding).toBeGreaterThan(save);
    expect(script).toContain(`"$root"'/var/lib/dpkg'`);
    expect(script).toContain('elif [ -x "$root"/bin/busybox ]; then set -- /bin/busybox sh');
    expect(run).toBeGreaterThan(scaffolding);
    expect(script).not.toContain('/usr/bin/env');
    // The essential variant keeps its customize hook and the image's env.
    const essential = mmdebstrapPlan(recipe, paths);
    expect(essential.args).toContain('--skip=essential/unlink');
    expect(essential.args).not.toContain('--skip=cleanup/apt');
    expect(essential.customizeScriptText).not.toContain('/etc/apt');
  });

  it('reads phases from mmdebstrap status lines', () => {
    expect(phaseOfLine('I: downloading packages with apt...')).toBe('downloading');
    expect(phaseOfLine('I: installing remaining packages inside the chroot...')).toBe('installing');
    expect(phaseOfLine('I: creating tarball...')).toBe('packing');
    expect(phaseOfLine('I: running --extract-hook directly: /tmp/w/customize.sh')).toBe(
      'customizing',
    );
    expect(phaseOfLine('dpkg: warning: something')).toBeUndefined();
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});

describe('the repository recipes', () => {
  it('all parse, and build the images the reference repos name', async () => {
    const { recipes, invalid } = await loadRecipes();
    expect(invalid.map(formatProblem)).toEqual([]);
    const names = recipes.map((loaded) => loaded.recipe.image);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(['redis:7.0', 'berth/guestbook-frontend:1', 'busybox:1.35']),
    );
    // The frontend's recipe lives with its source beside the Guestbook's manifests.
    const frontend = recipes.find((loaded) => loaded.recipe.image === 'berth/guestbook-frontend:1');
    expect(frontend?.dir).toBe(join(REPO_ROOT, 'guestbook', 'frontend'));
    const busybox = recipes.find((loaded) => loaded.recipe.image === 'busybox:1.35');
    expect(busybox?.recipe.variant).toBe('extract');
    expect(busybox?.recipe.packages).toEqual(['busybox-static']);
  });
});

describe('systemToolsFirst', () => {
  it("puts the system's tool folders before a version manager's shims and keeps the rest", () => {
    const env = systemToolsFirst({
      PATH: '/root/.pyenv/shims:/usr/local/bin:/usr/bin:/bin',
      HOME: '/root',
    });
    expect(env.PATH).toBe('/usr/sbin:/usr/bin:/sbin:/bin:/root/.pyenv/shims:/usr/local/bin');
    expect(env.HOME).toBe('/root');
  });
});
