import { createHash } from 'node:crypto';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';

/**
 * Image recipes (`<dir>/image.yaml`): parsing, checking, hashing and the `docker import`
 * changes they make. Pure: the builder reads the files and hands their bytes in.
 */

/** Bumped whenever the way a recipe becomes an image changes, so every image is rebuilt. */
export const BUILDER_FORMAT_VERSION = 'berth-image-builder/1 bookworm essential';

/** The image label that holds the recipe hash; a build is skipped when it matches. */
export const RECIPE_LABEL = 'io.berth.recipe';

export interface RecipeFile {
  /** Path inside the recipe directory, `/`-separated. */
  readonly from: string;
  /** Absolute path inside the image. */
  readonly to: string;
  /** Octal permission bits, e.g. "0755". */
  readonly mode: string;
}

export interface RecipeConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly expose: readonly string[];
  readonly workdir?: string;
  readonly volumes: readonly string[];
  readonly user?: string;
  readonly stopsignal?: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * How mmdebstrap makes the root filesystem: `essential` installs Debian's Essential:yes
 * packages and then the listed ones with apt and dpkg; `extract` only unpacks the listed
 * packages (no maintainer scripts, no dpkg database, no apt), for images of a static binary.
 */
export type RecipeVariant = 'essential' | 'extract';

export const RECIPE_VARIANTS: readonly RecipeVariant[] = ['essential', 'extract'];

export interface Recipe {
  /** `name:tag` of the image. */
  readonly image: string;
  /** Absent means `essential`. */
  readonly variant?: RecipeVariant;
  readonly packages: readonly string[];
  readonly files: readonly RecipeFile[];
  readonly run?: string;
  readonly config: RecipeConfig;
}

/** One problem in a recipe, at `file:line:col`. */
export interface RecipeProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export function formatProblem(problem: RecipeProblem): string {
  return `${problem.file}:${problem.line}:${problem.col}: ${problem.message}`;
}

export type ParseResult =
  | { readonly ok: true; readonly recipe: Recipe }
  | { readonly ok: false; readonly problems: readonly RecipeProblem[] };

const TOP_KEYS = new Set(['image', 'variant', 'packages', 'files', 'run', 'config']);
const CONFIG_KEYS = new Set([
  'entrypoint',
  'cmd',
  'env',
  'expose',
  'workdir',
  'volumes',
  'user',
  'stopsignal',
  'labels',
]);
const FILE_KEYS = new Set(['from', 'to', 'mode']);

// name[:tag], lower-case path components as Docker accepts them; a tag is required.
const IMAGE_RE =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// Debian package names (Policy 5.6.1), optionally pinned to a version or a release.
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+|\/[a-z0-9-]+)?$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const EXPOSE_RE = /^[0-9]{1,5}(?:\/(?:tcp|udp|sctp))?$/;
const MODE_RE = /^0?[0-7]{3}$/;
// Control characters cannot be carried through a `--change` line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point of the check
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/**
 * Parses and checks `image.yaml`. `file` names it in problems; `present` lists the files of
 * the recipe directory (relative paths), so `files[].from` can be checked without I/O.
 */
export function parseRecipe(text: string, file: string, present: readonly string[]): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: RecipeProblem[] = [];
  const at = (offset: number | undefined, message: string): void => {
    const pos = lineCounter.linePos(offset ?? 0);
    problems.push({ file, line: pos.line, col: pos.col, message });
  };
  const atNode = (node: Node | null | undefined, message: string): void =>
    at(node?.range?.[0], message);

  for (const error of doc.errors) at(error.pos[0], `YAML: ${firstLine(error.message)}`);
  if (doc.errors.length > 0) return { ok: false, problems };

  const root = doc.contents;
  if (!isMap(root)) {
    atNode(root, 'a recipe is a mapping with image, variant, packages, files, run and config');
    return { ok: false, problems };
  }

  const fields = new Map<string, Node | null>();
  const keyNodes = new Map<string, Node>();
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined || !TOP_KEYS.has(key)) {
      atNode(
        pair.key as Node,
        `unknown field ${JSON.stringify(key ?? '?')} (known: ${[...TOP_KEYS].join(', ')})`,
      );
      continue;
    }
    fields.set(key, (pair.value as Node | null) ?? null);
    keyNodes.set(key, pair.key as Node);
  }

  // image
  let image = '';
  const imageNode = fields.get('image');
  if (imageNode === undefined) at(root.range?.[0], 'image: required (name:tag)');
  else {
    const value = scalarString(imageNode);
    if (value === undefined || !IMAGE_RE.test(value)) {
      atNode(
        imageNode ?? keyNodes.get('image'),
        'image: must be name:tag, e.g. redis:7.0 (lower-case name, tag required)',
      );
    } else image = value;
  }

  // variant
  let variant: RecipeVariant | undefined;
  const variantNode = fields.get('variant');
  if (variantNode !== undefined) {
    const value = scalarString(variantNode);
    const known = RECIPE_VARIANTS.find((name) => name === value);
    if (known === undefined) {
      atNode(
        variantNode ?? keyNodes.get('variant'),
        `variant: must be one of ${RECIPE_VARIANTS.join(', ')}`,
      );
    } else variant = known;
  }

  // packages
  const packages: string[] = [];
  const packagesNode = fields.get('packages');
  if (packagesNode === undefined) at(root.range?.[0], 'packages: required (Debian package names)');
  else if (variant === 'extract' && isSeq(packagesNode) && packagesNode.items.length === 0) {
    atNode(packagesNode, 'packages: variant extract unpacks only the listed packages; list one');
  } else if (!isSeq(packagesNode)) {
    atNode(packagesNode ?? keyNodes.get('packages'), 'packages: must be a list of package names');
  } else {
    packagesNode.items.forEach((item, i) => {
      const value = scalarString(item as Node);
      if (value === undefined || !PACKAGE_RE.test(value)) {
        atNode(item as Node, `packages[${i}]: not a Debian package name`);
      } else packages.push(value);
    });
  }

  // files
  const files: RecipeFile[] = [];
  const filesNode = fields.get('files');
  if (filesNode !== undefined && filesNode !== null) {
    if (!isSeq(filesNode)) atNode(filesNode, 'files: must be a list of {from, to, mode}');
    else {
      const presentSet = new Set(present);
      filesNode.items.forEach((item, i) => {
        const where = `files[${i}]`;
        if (!isMap(item)) {
          atNode(item as Node, `${where}: must be a mapping with from, to and mode`);
          return;
        }
        const entry = new Map<string, Node | null>();
        for (const pair of item.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : '?';
          if (!FILE_KEYS.has(key)) atNode(pair.key as Node, `${where}: unknown field ${key}`);
          else entry.set(key, (pair.value as Node | null) ?? null);
        }
        const from = stringField(entry, 'from', where, item, atNode);
        const to = stringField(entry, 'to', where, item, atNode);
        const modeNode = entry.get('mode');
        let mode = '0644';
        if (modeNode !== undefined) {
          const value = isScalar(modeNode) ? modeNode.value : undefined;
          if (typeof value !== 'string' || !MODE_RE.test(value)) {
            atNode(
              modeNode,
              `${where}.mode: must be a quoted octal string like "0755" (YAML reads 0755 unquoted as a decimal number)`,
            );
          } else mode = value.padStart(4, '0');
        }
        if (from !== undefined) {
          if (from.startsWith('/') || from.split('/').includes('..')) {
            atNode(entry.get('from'), `${where}.from: must be a path inside the recipe directory`);
          } else if (!presentSet.has(from)) {
            atNode(entry.get('from'), `${where}.from: no file ${from} in the recipe directory`);
          }
        }
        if (to !== undefined && (!to.startsWith('/') || to.endsWith('/'))) {
          atNode(entry.get('to'), `${where}.to: must be an absolute file path in the image`);
        }
        if (from !== undefined && to !== undefined) files.push({ from, to, mode });
      });
    }
  }

  // run
  let run: string | undefined;
  const runNode = fields.get('run');
  if (runNode !== undefined && runNode !== null) {
    const value = scalarString(runNode);
    if (value === undefined) atNode(runNode, 'run: must be a shell script (a string)');
    else run = value;
  }

  // config
  const config = parseConfig(fields.get('config'), atNode);

  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems };
  }
  return {
    ok: true,
    recipe: {
      image,
      ...(variant === undefined ? {} : { variant }),
      packages,
      files,
      ...(run === undefined ? {} : { run }),
      config,
    },
  };
}

type AtNode = (node: Node | null | undefined, message: string) => void;

function parseConfig(node: Node | null | undefined, atNode: AtNode): RecipeConfig {
  const config: {
    entrypoint?: string[];
    cmd?: string[];
    env: Record<string, string>;
    expose: string[];
    workdir?: string;
    volumes: string[];
    user?: string;
    stopsignal?: string;
    labels: Record<string, string>;
  } = { env: {}, expose: [], volumes: [], labels: {} };
  if (node === undefined || node === null) return config;
  if (!isMap(node)) {
    atNode(node, 'config: must be a mapping');
    return config;
  }
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    const value = (pair.value as Node | null) ?? null;
    const where = `config.${key}`;
    if (value === null && CONFIG_KEYS.has(key)) {
      atNode(pair.key as Node, `${where}: has no value`);
      continue;
    }
    if (!CONFIG_KEYS.has(key)) {
      atNode(
        pair.key as Node,
        `config: unknown field ${JSON.stringify(key)} (known: ${[...CONFIG_KEYS].join(', ')})`,
      );
      continue;
    }
    switch (key) {
      case 'entrypoint':
      case 'cmd': {
        const list = stringList(value, where, atNode);
        if (list !== undefined) config[key] = list;
        break;
      }
      case 'expose': {
        const list = stringList(value, where, atNode, true) ?? [];
        list.forEach((port, i) => {
          if (!EXPOSE_RE.test(port))
            atNode(seqItem(value, i), `${where}[${i}]: must be like 6379/tcp`);
          else config.expose.push(port);
        });
        break;
      }
      case 'volumes': {
        const list = stringList(value, where, atNode) ?? [];
        list.forEach((path, i) => {
          if (!path.startsWith('/')) atNode(seqItem(value, i), `${where}[${i}]: must be absolute`);
          else config.volumes.push(path);
        });
        break;
      }
      case 'env':
      case 'labels': {
        const map = stringMap(value, where, atNode);
        const nameRe = key === 'env' ? ENV_NAME_RE : LABEL_KEY_RE;
        for (const [name, entry] of map) {
          if (!nameRe.test(name))
            atNode(entry.keyNode, `${where}: bad name ${JSON.stringify(name)}`);
          else config[key][name] = entry.value;
        }
        break;
      }
      case 'workdir': {
        const text = scalarString(value);
        if (text === undefined || !text.startsWith('/')) {
          atNode(value ?? (pair.key as Node), `${where}: must be an absolute path`);
        } else config.workdir = text;
        break;
      }
      case 'user':
      case 'stopsignal': {
        const text = scalarString(value);
        if (text === undefined || text === '' || /\s/.test(text)) {
          atNode(value ?? (pair.key as Node), `${where}: must be one word`);
        } else config[key] = text;
        break;
      }
    }
  }
  return config;
}

function seqItem(node: Node | null, i: number): Node | undefined {
  return isSeq(node) ? (node.items[i] as Node | undefined) : undefined;
}

function stringList(
  node: Node | null,
  where: string,
  atNode: AtNode,
  numbersToo = false,
): string[] | undefined {
  if (!isSeq(node)) {
    atNode(node, `${where}: must be a list of strings`);
    return undefined;
  }
  const out: string[] = [];
  let good = true;
  node.items.forEach((item, i) => {
    const scalar = isScalar(item) ? item.value : undefined;
    if (typeof scalar === 'string' && !CONTROL_RE.test(scalar)) out.push(scalar);
    else if (numbersToo && typeof scalar === 'number') out.push(String(scalar));
    else {
      atNode(item as Node, `${where}[${i}]: must be a string on one line`);
      good = false;
    }
  });
  return good ? out : undefined;
}

function stringMap(
  node: Node | null,
  where: string,
  atNode: AtNode,
): Map<string, { value: string; keyNode: Node }> {
  const out = new Map<string, { value: string; keyNode: Node }>();
  if (!isMap(node)) {
    atNode(node, `${where}: must be a mapping of names to strings`);
    return out;
  }
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const name = isScalar(keyNode) ? String(keyNode.value) : '?';
    const valueNode = (pair.value as Node | null) ?? null;
    const value = isScalar(valueNode) ? valueNode.value : undefined;
    if (typeof value !== 'string' || CONTROL_RE.test(value)) {
      atNode(valueNode ?? keyNode, `${where}.${name}: must be a quoted string on one line`);
    } else out.set(name, { value, keyNode });
  }
  return out;
}

function stringField(
  entry: Map<string, Node | null>,
  key: string,
  where: string,
  parent: Node,
  atNode: AtNode,
): string | undefined {
  const node = entry.get(key);
  if (node === undefined) {
    atNode(parent, `${where}.${key}: required`);
    return undefined;
  }
  const value = scalarString(node);
  if (value === undefined || value === '') {
    atNode(node, `${where}.${key}: must be a non-empty string`);
    return undefined;
  }
  return value;
}

function scalarString(node: Node | null | undefined): string | undefined {
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/**
 * The recipe hash: sha256 over the builder format version and every file of the recipe
 * directory, sorted by path (each as path, size and bytes, so no two trees collide).
 */
export function recipeHash(
  files: readonly { readonly path: string; readonly content: Uint8Array }[],
): string {
  const hash = createHash('sha256');
  hash.update(`${BUILDER_FORMAT_VERSION}\0`);
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of sorted) {
    hash.update(`${file.path}\0${file.content.byteLength}\0`);
    hash.update(file.content);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** The `docker import --change` lines of a recipe, the recipe hash label last. */
export function importChanges(recipe: Recipe, hash: string): string[] {
  const { config } = recipe;
  const changes: string[] = [];
  for (const [name, value] of Object.entries(config.env)) {
    changes.push(`ENV ${name}=${dockerfileQuote(value)}`);
  }
  if (config.workdir !== undefined) changes.push(`WORKDIR ${config.workdir}`);
  if (config.user !== undefined) changes.push(`USER ${config.user}`);
  for (const port of config.expose) changes.push(`EXPOSE ${port}`);
  if (config.volumes.length > 0) changes.push(`VOLUME ${JSON.stringify(config.volumes)}`);
  if (config.stopsignal !== undefined) changes.push(`STOPSIGNAL ${config.stopsignal}`);
  if (config.entrypoint !== undefined) {
    changes.push(`ENTRYPOINT ${JSON.stringify(config.entrypoint)}`);
  }
  if (config.cmd !== undefined) changes.push(`CMD ${JSON.stringify(config.cmd)}`);
  for (const [name, value] of Object.entries(config.labels)) {
    changes.push(`LABEL ${dockerfileQuote(name)}=${dockerfileQuote(value)}`);
  }
  changes.push(`LABEL ${RECIPE_LABEL}=${hash}`);
  return changes;
}

/** A Dockerfile word in double quotes: backslash, quote and `$` (no expansion) escaped. */
export function dockerfileQuote(value: string): string {
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}
