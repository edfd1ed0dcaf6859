import { posix } from 'node:path';
import type { Recipe } from './recipe.js';

/**
 * How a recipe becomes an mmdebstrap command line and the script of its customize hook.
 * Pure: the builder runs what this returns.
 */

export const SUITE = 'bookworm';

/** Paths dpkg leaves out of every image (copyright files stay, as in Debian's own images). */
export const PATH_EXCLUDES = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
];

/** What the builder is doing, as shown live on a terminal. */
export type BuildPhase =
  | 'preparing'
  | 'downloading'
  | 'installing'
  | 'customizing'
  | 'packing'
  | 'importing';

export interface MmdebstrapPlan {
  readonly args: readonly string[];
  /** Written to `customizeScript` and made executable before mmdebstrap runs. */
  readonly customizeScriptText: string;
  /** Written to `runScript` when the recipe has a `run` script. */
  readonly runScriptText: string | undefined;
}

export interface PlanPaths {
  /** Absolute directory of the recipe (files are copied from here). */
  readonly recipeDir: string;
  /** Shared cache of downloaded .deb files, read at the start of every build. */
  readonly aptCache: string;
  /** Where this build leaves the .deb files it used, for the builder to add to the cache. */
  readonly debsOut: string;
  readonly customizeScript: string;
  readonly runScript: string;
  readonly tarball: string;
}

/** The in-image path the run script is copied to for the chroot to execute. */
const RUN_SCRIPT_IN_IMAGE = '/tmp/berth-recipe-run.sh';
const CHROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * What mmdebstrap leaves of its own in an `extract` root: apt's and dpkg's configuration and
 * state (there is no package database to go with them), and the host's name and resolver.
 * Removed by the hook, which is why mmdebstrap's own apt cleanup is skipped for `extract`.
 */
export const EXTRACT_SCAFFOLDING = [
  '/etc/apt',
  '/etc/dpkg',
  '/etc/fstab',
  '/etc/hostname',
  '/etc/resolv.conf',
  '/var/cache/apt',
  '/var/lib/apt',
  '/var/lib/dpkg',
  '/var/log/apt',
];

export function mmdebstrapPlan(recipe: Recipe, paths: PlanPaths): MmdebstrapPlan {
  const extract = recipe.variant === 'extract';
  const args = [
    extract ? '--variant=extract' : '--variant=essential',
    '--mode=root',
    '--format=tar',
    ...(recipe.packages.length > 0 ? [`--include=${recipe.packages.join(',')}`] : []),
    // Keep what was downloaded, so the hook can hand it to the shared cache. An extract root
    // gets no apt cleanup: the hook removes apt's files (EXTRACT_SCAFFOLDING), and Docker
    // gives every container its own /dev.
    ...(extract
      ? ['--skip=cleanup/apt', '--skip=cleanup/mmdebstrap', '--skip=output/dev']
      : ['--skip=essential/unlink']),
    '--dpkgopt=force-unsafe-io',
    ...PATH_EXCLUDES.map((option) => `--dpkgopt=${option}`),
    `--setup-hook=mkdir -p "$1"/var/cache/apt/archives/`,
    `--setup-hook=sync-in ${paths.aptCache} /var/cache/apt/archives/`,
    // An executable path without shell metacharacters is exec'd with the root as $1. The
    // extract variant runs no customize hooks; its last hook is the extract hook.
    `${extract ? '--extract-hook' : '--customize-hook'}=${paths.customizeScript}`,
    SUITE,
    paths.tarball,
  ];

  const lines = [
    '#!/bin/sh',
    `# mmdebstrap ${extract ? 'extract' : 'customize'} hook: $1 is the image root.`,
    'set -eu',
    'root=$1',
    '# Hand the packages used to the builder (before the recipe may delete them).',
    `mkdir -p ${shellQuote(paths.debsOut)}`,
    `for deb in "$root"/var/cache/apt/archives/*.deb; do`,
    `  [ -e "$deb" ] && cp "$deb" ${shellQuote(paths.debsOut)}/`,
    'done',
  ];
  if (extract) {
    lines.push(
      `rm -rf ${EXTRACT_SCAFFOLDING.map((path) => `"$root"${shellQuote(path)}`).join(' ')}`,
      // Emptied parents go too; a package's own files keep theirs.
      `rmdir "$root"/var/cache "$root"/var/lib "$root"/var/log "$root"/var 2>/dev/null || true`,
    );
  }
  for (const file of recipe.files) {
    const target = `"$root"${shellQuote(file.to)}`;
    lines.push(
      `mkdir -p "$root"${shellQuote(posix.dirname(file.to))}`,
      // Removed first, so a symlink at the target is replaced rather than followed.
      `rm -f ${target}`,
      `cp ${shellQuote(posix.join(paths.recipeDir, file.from))} ${target}`,
      `chmod ${file.mode} ${target}`,
    );
  }
  let runScriptText: string | undefined;
  if (recipe.run !== undefined) {
    runScriptText = `set -e\ncd /\n${recipe.run}`;
    const inImage = `"$root"${RUN_SCRIPT_IN_IMAGE}`;
    lines.push(`mkdir -p "$root"/tmp`, `cp ${shellQuote(paths.runScript)} ${inImage}`);
    if (extract) {
      // Nothing was installed: no /usr/bin/env, maybe no /bin/sh yet. The host's env clears
      // the environment; the image's /bin/sh runs the script, or its busybox's sh (so a
      // busybox recipe can make its own applet links).
      lines.push(
        `if [ -x "$root"/bin/sh ]; then set -- /bin/sh`,
        `elif [ -x "$root"/bin/busybox ]; then set -- /bin/busybox sh`,
        `else echo "the image has no /bin/sh (nor /bin/busybox) to run the recipe's run script" >&2; exit 1`,
        'fi',
        `env -i PATH=${CHROOT_PATH} HOME=/root chroot "$root" "$@" -e ${RUN_SCRIPT_IN_IMAGE}`,
      );
    } else {
      lines.push(
        `chroot "$root" /usr/bin/env -i PATH=${CHROOT_PATH} HOME=/root /bin/sh -e ${RUN_SCRIPT_IN_IMAGE}`,
      );
    }
    lines.push(`rm -f ${inImage}`);
  }
  return { args, customizeScriptText: `${lines.join('\n')}\n`, runScriptText };
}

/** The phase an mmdebstrap status line starts, if it starts one. */
export function phaseOfLine(line: string): BuildPhase | undefined {
  if (!line.startsWith('I: ')) return undefined;
  if (line.includes('apt-get update') || line.includes('downloading packages')) {
    return 'downloading';
  }
  if (line.includes('extracting archives') || line.includes('installing')) return 'installing';
  if (line.includes('--customize-hook') || line.includes('--extract-hook')) return 'customizing';
  if (line.includes('creating tarball')) return 'packing';
  return undefined;
}

/** One POSIX shell word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
