import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../operator/model/errors.js';
import { withMachineLock } from './machine-lock.js';
import { type BuildPhase, mmdebstrapPlan, phaseOfLine } from './mmdebstrap.js';
import {
  formatProblem,
  importChanges,
  parseRecipe,
  RECIPE_LABEL,
  type Recipe,
  type RecipeProblem,
  recipeHash,
} from './recipe.js';

/**
 * The example images' builder (an adapter): finds the recipes, skips every image whose
 * label already carries its recipe hash, and builds the others with mmdebstrap and
 * `docker import`, two at a time.
 */

/** The repository root (this file lives in `images/`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Folders whose `<dir>/image.yaml` are recipes. */
export const RECIPE_PARENTS = ['images', 'guestbook', 'wordpress'];

const BUILD_CONCURRENCY = 2;
/** A build that takes longer than this is stuck (a cold build takes a few minutes). */
const BUILD_TIMEOUT_MS = 30 * 60_000;
const DOCKER_TIMEOUT_MS = 60_000;
const IMPORT_TIMEOUT_MS = 10 * 60_000;

export interface LoadedRecipe {
  readonly recipe: Recipe;
  /** Absolute path of the recipe directory. */
  readonly dir: string;
  readonly hash: string;
}

export interface BuiltImage {
  readonly name: string;
  readonly id: string;
  /** False when the image was already there with the same recipe hash. */
  readonly built: boolean;
  readonly seconds: number;
  /** The image's size as Docker reports it. */
  readonly sizeBytes: number;
  readonly recipeHash: string;
}

export type ProgressEvent =
  | { readonly kind: 'start'; readonly image: string; readonly packages: readonly string[] }
  | { readonly kind: 'phase'; readonly image: string; readonly phase: BuildPhase }
  | { readonly kind: 'done'; readonly image: string; readonly result: BuiltImage }
  | {
      readonly kind: 'failed';
      readonly image: string;
      readonly seconds: number;
      readonly error: Error;
    };

export interface EnsureOptions {
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Rebuild even when the image carries the same recipe hash. */
  readonly force?: boolean;
  /** Where recipes are looked for (default: this repository). */
  readonly root?: string;
  /** The shared cache of downloaded packages (default `~/.cache/berth/apt`). */
  readonly aptCache?: string;
}

/**
 * Makes sure the named images (default: every recipe's) are built from their current
 * recipes. Fast when they are: one `docker image inspect` each.
 */
export async function ensureImages(
  names?: readonly string[],
  options: EnsureOptions = {},
): Promise<BuiltImage[]> {
  const root = options.root ?? REPO_ROOT;
  const { recipes, invalid } = await loadRecipes(root);
  const selected = selectRecipes(recipes, invalid, names);
  const onProgress = options.onProgress ?? (() => undefined);

  const results = new Map<string, BuiltImage>();
  const toBuild: LoadedRecipe[] = [];
  await Promise.all(
    selected.map(async (loaded) => {
      const started = Date.now();
      const present = await inspectImage(loaded.recipe.image);
      if (options.force !== true && present?.recipe === loaded.hash) {
        const result: BuiltImage = {
          name: loaded.recipe.image,
          id: present.id,
          built: false,
          seconds: (Date.now() - started) / 1000,
          sizeBytes: present.size,
          recipeHash: loaded.hash,
        };
        results.set(loaded.recipe.image, result);
        onProgress({ kind: 'done', image: loaded.recipe.image, result });
      } else toBuild.push(loaded);
    }),
  );

  if (toBuild.length > 0) {
    await checkCanBuild();
    const aptCache = options.aptCache ?? defaultAptCache();
    await mkdir(aptCache, { recursive: true });
    const failures: Error[] = [];
    const queue = [...toBuild];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const loaded = next;
        const started = Date.now();
        try {
          const result = await withBuildLock(loaded.recipe.image, async () => {
            // Another process may have built it while this one waited.
            const present = await inspectImage(loaded.recipe.image);
            if (options.force !== true && present?.recipe === loaded.hash) {
              return {
                name: loaded.recipe.image,
                id: present.id,
                built: false,
                seconds: (Date.now() - started) / 1000,
                sizeBytes: present.size,
                recipeHash: loaded.hash,
              };
            }
            onProgress({
              kind: 'start',
              image: loaded.recipe.image,
              packages: loaded.recipe.packages,
            });
            return buildImage(loaded, aptCache, present?.id, started, (phase) =>
              onProgress({ kind: 'phase', image: loaded.recipe.image, phase }),
            );
          });
          results.set(loaded.recipe.image, result);
          onProgress({ kind: 'done', image: loaded.recipe.image, result });
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          failures.push(failure);
          onProgress({
            kind: 'failed',
            image: loaded.recipe.image,
            seconds: (Date.now() - started) / 1000,
            error: failure,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(BUILD_CONCURRENCY, toBuild.length) }, worker));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new BerthError(
        'IMAGE_BUILD_FAILED',
        `${failures.length} images failed to build:\n${failures.map((f) => `- ${f.message}`).join('\n')}`,
        { cause: failures[0] },
      );
    }
  }
  return selected.map((loaded) => results.get(loaded.recipe.image)!);
}

/** Every recipe under `images/*`, `guestbook/*` and `wordpress/*`, and the invalid ones' problems. */
export async function loadRecipes(
  root: string = REPO_ROOT,
): Promise<{ recipes: LoadedRecipe[]; invalid: RecipeProblem[] }> {
  const recipes: LoadedRecipe[] = [];
  const invalid: RecipeProblem[] = [];
  for (const parent of RECIPE_PARENTS) {
    let entries: string[];
    try {
      entries = (await readdir(join(root, parent), { withFileTypes: true }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort();
    } catch {
      continue;
    }
    for (const name of entries) {
      const dir = join(root, parent, name);
      const yamlPath = join(dir, 'image.yaml');
      let text: string;
      try {
        text = await readFile(yamlPath, 'utf8');
      } catch {
        continue;
      }
      const files = await readTree(dir);
      const parsed = parseRecipe(
        text,
        relative(process.cwd(), yamlPath) || yamlPath,
        files.map((file) => file.path),
      );
      if (!parsed.ok) {
        invalid.push(...parsed.problems);
        continue;
      }
      recipes.push({ recipe: parsed.recipe, dir, hash: recipeHash(files) });
    }
  }
  return { recipes, invalid };
}

function selectRecipes(
  recipes: readonly LoadedRecipe[],
  invalid: readonly RecipeProblem[],
  names: readonly string[] | undefined,
): LoadedRecipe[] {
  const invalidText = invalid.map(formatProblem).join('\n');
  const byName = new Map<string, LoadedRecipe>();
  for (const loaded of recipes) {
    const other = byName.get(loaded.recipe.image);
    if (other !== undefined) {
      throw new BerthError(
        'IMAGE_RECIPE_INVALID',
        `two recipes build ${loaded.recipe.image}: ${other.dir} and ${loaded.dir}`,
      );
    }
    byName.set(loaded.recipe.image, loaded);
  }
  if (names === undefined || names.length === 0) {
    if (invalid.length > 0) {
      throw new BerthError('IMAGE_RECIPE_INVALID', `invalid image recipes:\n${invalidText}`);
    }
    return [...recipes];
  }
  return [...new Set(names)].map((name) => {
    const loaded = byName.get(name);
    if (loaded !== undefined) return loaded;
    throw new BerthError(
      invalid.length > 0 ? 'IMAGE_RECIPE_INVALID' : 'IMAGE_UNKNOWN',
      invalid.length > 0
        ? `no valid recipe builds ${name}; invalid recipes:\n${invalidText}`
        : `no recipe builds ${name}`,
      { hint: `recipes build: ${[...byName.keys()].sort().join(', ') || 'nothing'}` },
    );
  });
}

/** Every file under `dir` (relative `/`-separated paths, sorted), with its bytes. */
async function readTree(dir: string): Promise<{ path: string; content: Buffer }[]> {
  const out: { path: string; content: Buffer }[] = [];
  const walk = async (sub: string): Promise<void> => {
    for (const entry of await readdir(join(dir, sub), { withFileTypes: true })) {
      const path = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push({ path, content: await readFile(join(dir, path)) });
    }
  };
  await walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function defaultAptCache(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'berth', 'apt');
}

// ---------------------------------------------------------------------------------------
// Docker (through the docker CLI: `docker import` is the one call a build needs)

interface PresentImage {
  readonly id: string;
  readonly size: number;
  readonly recipe: string | undefined;
}

async function inspectImage(name: string): Promise<PresentImage | undefined> {
  const result = await runCommand('docker', ['image', 'inspect', '--format', '{{json .}}', name], {
    timeoutMs: DOCKER_TIMEOUT_MS,
  });
  if (result.code !== 0) {
    if (/no such image/i.test(result.stderr)) return undefined;
    throw dockerUnreachable(result.stderr || result.error?.message || `exit ${result.code}`);
  }
  const info = JSON.parse(result.stdout) as {
    Id: string;
    Size: number;
    Config?: { Labels?: Record<string, string> | null } | null;
  };
  return { id: info.Id, size: info.Size, recipe: info.Config?.Labels?.[RECIPE_LABEL] };
}

function dockerUnreachable(detail: string): BerthError {
  return new BerthError('IMAGE_DOCKER_UNREACHABLE', `Docker does not answer: ${detail.trim()}`, {
    hint: 'start the Docker Engine (dockerd), or point DOCKER_HOST at one',
    retry: true,
  });
}

/** Root and mmdebstrap: checked once, only when something must be built. */
async function checkCanBuild(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new BerthError(
      'IMAGE_BUILD_UNAVAILABLE',
      'building images needs root: mmdebstrap makes the root filesystem in root mode and chroots into it',
      { hint: 'run it as root, e.g. sudo npm run images' },
    );
  }
  const probe = await runCommand('mmdebstrap', ['--version'], { timeoutMs: DOCKER_TIMEOUT_MS });
  if (probe.error !== undefined || probe.code !== 0) {
    throw new BerthError('IMAGE_BUILD_UNAVAILABLE', 'mmdebstrap is missing', {
      hint: 'install it: apt-get install mmdebstrap',
    });
  }
}

async function buildImage(
  loaded: LoadedRecipe,
  aptCache: string,
  previousId: string | undefined,
  started: number,
  onPhase: (phase: BuildPhase) => void,
): Promise<BuiltImage> {
  const { recipe } = loaded;
  const work = await mkdtemp(join(tmpdir(), 'berth-image-'));
  try {
    onPhase('preparing');
    const paths = {
      recipeDir: loaded.dir,
      aptCache,
      debsOut: join(work, 'debs'),
      customizeScript: join(work, 'customize.sh'),
      runScript: join(work, 'run.sh'),
      tarball: join(work, 'rootfs.tar'),
    };
    const plan = mmdebstrapPlan(recipe, paths);
    await writeFile(paths.customizeScript, plan.customizeScriptText);
    await chmod(paths.customizeScript, 0o755);
    if (plan.runScriptText !== undefined) await writeFile(paths.runScript, plan.runScriptText);

    const tail: string[] = [];
    const result = await runCommand('mmdebstrap', plan.args, {
      timeoutMs: BUILD_TIMEOUT_MS,
      env: systemToolsFirst(process.env),
      onLine: (line) => {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        const phase = phaseOfLine(line);
        if (phase !== undefined) onPhase(phase);
      },
    });
    if (result.code !== 0) {
      throw new BerthError(
        'IMAGE_BUILD_FAILED',
        `${recipe.image}: mmdebstrap failed (${result.error?.message ?? `exit ${result.code}`}); last output:\n${tail.join('\n')}`,
        { hint: `recipe: ${join(loaded.dir, 'image.yaml')}` },
      );
    }
    await addToCache(paths.debsOut, aptCache);

    onPhase('importing');
    const changes = importChanges(recipe, loaded.hash);
    const imported = await runCommand(
      'docker',
      [
        'import',
        ...changes.flatMap((change) => ['--change', change]),
        '--message',
        `berth image recipe ${loaded.hash}`,
        paths.tarball,
        recipe.image,
      ],
      { timeoutMs: IMPORT_TIMEOUT_MS },
    );
    if (imported.code !== 0) {
      if (/cannot connect|is the docker daemon running/i.test(imported.stderr)) {
        throw dockerUnreachable(imported.stderr);
      }
      throw new BerthError(
        'IMAGE_BUILD_FAILED',
        `${recipe.image}: docker import failed: ${imported.stderr.trim() || imported.error?.message}`,
      );
    }
    const present = await inspectImage(recipe.image);
    if (present?.recipe !== loaded.hash) {
      throw new BerthError(
        'IMAGE_BUILD_FAILED',
        `${recipe.image}: the imported image does not carry label ${RECIPE_LABEL}=${loaded.hash}`,
      );
    }
    // The image of an older recipe lost its name: remove it unless a container still uses it.
    if (previousId !== undefined && previousId !== present.id) {
      await runCommand('docker', ['image', 'rm', previousId], { timeoutMs: DOCKER_TIMEOUT_MS });
    }
    return {
      name: recipe.image,
      id: present.id,
      built: true,
      seconds: (Date.now() - started) / 1000,
      sizeBytes: present.size,
      recipeHash: loaded.hash,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Moves the .deb files a build used into the shared cache (atomically, by rename). */
async function addToCache(debsOut: string, aptCache: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(debsOut);
  } catch {
    return;
  }
  const cached = new Set(await readdir(aptCache));
  for (const name of names) {
    if (!name.endsWith('.deb') || cached.has(name)) continue;
    const partial = join(aptCache, `.${name}.${process.pid}.partial`);
    await copyFile(join(debsOut, name), partial);
    await rename(partial, join(aptCache, name));
  }
}

// ---------------------------------------------------------------------------------------
// Child processes and the machine-wide build lock

interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Spawning failed (e.g. ENOENT) or the deadline passed. */
  readonly error: Error | undefined;
}

const SYSTEM_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * mmdebstrap filters every package through mmtarfilter, a `/usr/bin/env python3` script: a
 * version manager's python3 shim first on PATH (pyenv's takes ~0.6 s a start, Debian's 0.07 s)
 * adds minutes to a build. The system's own tools go first; the rest of PATH stays after them.
 */
export function systemToolsFirst(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const rest = (env.PATH ?? '')
    .split(':')
    .filter((dir) => dir !== '' && !SYSTEM_PATH.includes(dir));
  return { ...env, PATH: [...SYSTEM_PATH, ...rest].join(':') };
}

function runCommand(
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; onLine?: (line: string) => void; env?: NodeJS.ProcessEnv },
): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    let child: ChildProcess;
    let stdout = '';
    let stderr = '';
    let partial = '';
    let error: Error | undefined;
    try {
      child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
    } catch (spawnError) {
      resolvePromise({ code: null, stdout, stderr, error: spawnError as Error });
      return;
    }
    const timer = setTimeout(() => {
      error = new Error(`${command} did not finish within ${options.timeoutMs / 1000}s`);
      child.kill('SIGTERM');
    }, options.timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
      if (options.onLine !== undefined) {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) options.onLine(line);
      }
    });
    child.on('error', (spawnError) => {
      error ??= spawnError;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial !== '' && options.onLine !== undefined) options.onLine(partial);
      resolvePromise({ code: error === undefined ? code : (code ?? null), stdout, stderr, error });
    });
  });
}

/**
 * One build of an image at a time on this machine (test files run in parallel workers and
 * may all ask for the same image).
 */
function withBuildLock<T>(image: string, work: () => Promise<T>): Promise<T> {
  return withMachineLock(
    {
      name: `berth-image-lock-${image}`,
      waitMs: BUILD_TIMEOUT_MS,
      timeoutError: (lockDir) =>
        new BerthError(
          'IMAGE_BUILD_FAILED',
          `waited ${BUILD_TIMEOUT_MS / 60_000} min for another build of ${image} (${lockDir})`,
          { hint: `remove ${lockDir} if no build is running` },
        ),
    },
    work,
  );
}
