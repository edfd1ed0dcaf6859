/**
 * The apps config file (`berth.yaml`): which apps `berth serve` keeps in sync, and the webhook
 * secret. Pure: text in, config and problems out, each problem with file:line:col and the field.
 * A file with problems must leave the running apps as they are; the caller decides.
 */
import path from 'node:path';
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type YAMLMap,
} from 'yaml';
import { parseDuration } from '../cli/apply.js';
import { isBerthError } from '../model/errors.js';
import type { Origin } from '../model/problem.js';
import { checkAppName } from '../operator/sync-app.js';
import { hasUrlScheme, isLoopbackHost, looksLikeScpAddress } from '../source/url.js';

/** How often an https source is fetched when the file does not say. */
export const DEFAULT_INTERVAL_MS = 60_000;

export type ConfigProblemCode =
  | 'config.syntax'
  | 'config.unknown-key'
  | 'config.duplicate-key'
  | 'config.type'
  | 'config.required'
  | 'config.duplicate-app'
  | 'config.app-name'
  | 'config.duration'
  | 'config.source'
  | 'config.path'
  | 'config.conflict';

export interface ConfigProblem {
  readonly code: ConfigProblemCode;
  readonly origin: Origin;
  /** `apps[0].interval`; absent for syntax errors. */
  readonly field?: string;
  readonly message: string;
}

export interface AppConfig {
  readonly name: string;
  /** An https URL (http to this machine) as written, or an absolute or file-relative local path. */
  readonly source: string;
  readonly sourceKind: 'url' | 'path';
  /** The tracked ref as written; absent: the repository's HEAD. */
  readonly ref?: string;
  /** The manifest folder inside the repository, posix, no leading or trailing `/`; absent: the root. */
  readonly path?: string;
  /** Fetch interval, URL sources only (local ones are watched). */
  readonly intervalMs?: number;
  readonly prune: boolean;
  readonly selfHeal: boolean;
  /** Where the app's entry starts in the file. */
  readonly origin: Origin;
}

export type WebhookConfig = { readonly secret: string } | { readonly secretFile: string };

export interface AppsConfig {
  /** The apps without problems, in file order. */
  readonly apps: AppConfig[];
  readonly webhook?: WebhookConfig;
}

export interface ParsedAppsConfig {
  readonly config: AppsConfig;
  /** Sorted by line and column. Any problem means the file as a whole is not to be used. */
  readonly problems: ConfigProblem[];
}

/** `berth.yaml:4:15: apps[0].interval: "6x" is not a duration; e.g. 60s, 5m`. */
export function formatConfigProblem(problem: ConfigProblem): string {
  const { file, line, column } = problem.origin;
  const field = problem.field === undefined || problem.field === '' ? '' : `${problem.field}: `;
  return `${file}:${line}:${column}: ${field}${problem.message}`;
}

const TOP_KEYS = ['apps', 'webhook'] as const;
const APP_KEYS = ['name', 'source', 'ref', 'path', 'interval', 'prune', 'selfHeal'] as const;
const WEBHOOK_KEYS = ['secret', 'secretFile'] as const;

class Reader {
  readonly problems: ConfigProblem[] = [];
  private readonly lines = new LineCounter();
  readonly doc: Document.Parsed;

  constructor(
    private readonly text: string,
    readonly file: string,
  ) {
    this.doc = parseDocument(text, {
      lineCounter: this.lines,
      uniqueKeys: false,
      prettyErrors: false,
    });
    for (const error of this.doc.errors) {
      this.problems.push({
        code: 'config.syntax',
        origin: this.originAt(error.pos[0]),
        message: error.message.split('\n')[0]!,
      });
    }
  }

  originAt(offset: number): Origin {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  originOf(node: unknown): Origin {
    const range = (node as Node | null | undefined)?.range;
    return this.originAt(range?.[0] ?? 0);
  }

  problem(code: ConfigProblemCode, node: unknown, field: string, message: string): void {
    this.problems.push({ code, origin: this.originOf(node), field, message });
  }

  /** The node's text as written (for messages about scalars of the wrong type). */
  written(node: unknown): string {
    const range = (node as Node | null | undefined)?.range;
    return range == null ? '' : this.text.slice(range[0], range[1]).trim();
  }

  resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  /** The entries of a map, with unknown and repeated keys reported; undefined when not a map. */
  entries(
    node: unknown,
    field: string,
    known: readonly string[],
    what: string,
  ): Map<string, { key: unknown; value: unknown }> | undefined {
    const map = this.resolve(node);
    if (!isMap(map)) {
      this.problem('config.type', node, field, `must be a mapping (${what})`);
      return undefined;
    }
    const out = new Map<string, { key: unknown; value: unknown }>();
    const seen = new Map<string, unknown>();
    for (const pair of (map as YAMLMap<unknown, unknown>).items) {
      const key = this.resolve(pair.key);
      const name = isScalar(key) ? String(key.value) : undefined;
      const at = field === '' ? (name ?? '') : `${field}.${name ?? ''}`;
      if (name === undefined) {
        this.problem('config.type', pair.key, field, 'keys must be plain names');
      } else if (!known.includes(name)) {
        this.problem(
          'config.unknown-key',
          pair.key,
          at,
          `unknown key; expected one of ${known.join(', ')}`,
        );
      } else if (seen.has(name)) {
        const first = this.originOf(seen.get(name)).line;
        this.problem('config.duplicate-key', pair.key, at, `given twice; first at line ${first}`);
      } else {
        seen.set(name, pair.key);
        out.set(name, { key: pair.key, value: pair.value });
      }
    }
    return out;
  }

  string(node: unknown, field: string, example: string): string | undefined {
    const value = this.resolve(node);
    if (isScalar(value) && typeof value.value === 'string') return value.value;
    const message = isScalar(value)
      ? `${this.written(node)} is not a string; write "${this.written(node)}"`
      : `must be a string; e.g. ${example}`;
    this.problem('config.type', node, field, message);
    return undefined;
  }

  boolean(node: unknown, field: string): boolean | undefined {
    const value = this.resolve(node);
    if (isScalar(value) && typeof value.value === 'boolean') return value.value;
    const message = isScalar(value)
      ? `${typeof value.value === 'string' ? JSON.stringify(value.value) : this.written(node)} is not true or false`
      : 'must be true or false';
    this.problem('config.type', node, field, message);
    return undefined;
  }
}

function durationOf(reader: Reader, node: unknown, field: string): number | undefined {
  const value = reader.resolve(node);
  const raw = isScalar(value) ? value.value : undefined;
  const text = typeof raw === 'number' || typeof raw === 'string' ? String(raw) : undefined;
  let ms: number | undefined;
  if (text !== undefined) {
    try {
      ms = parseDuration(text, field);
    } catch (error) {
      if (!isBerthError(error)) throw error;
    }
  }
  if (ms === undefined) {
    const shown = text === undefined ? 'this' : JSON.stringify(text);
    reader.problem('config.duration', node, field, `${shown} is not a duration; e.g. 60s, 5m`);
    return undefined;
  }
  if (ms < 1000) {
    reader.problem('config.duration', node, field, `"${text}" is too short; at least 1s`);
    return undefined;
  }
  return ms;
}

/** Resolves a local path against the config file's folder (absolute when the file's path is). */
function localSource(source: string, file: string): string {
  return path.isAbsolute(source) ? path.normalize(source) : path.join(path.dirname(file), source);
}

function sourceOf(
  reader: Reader,
  node: unknown,
  field: string,
): { source: string; kind: 'url' | 'path' } | undefined {
  const text = reader.string(node, field, 'https://example.test/org/app.git');
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (trimmed === '') {
    reader.problem('config.source', node, field, 'is empty; give an https URL or a path');
    return undefined;
  }
  if (hasUrlScheme(trimmed)) {
    let url: URL | undefined;
    try {
      url = new URL(trimmed);
    } catch {
      url = undefined;
    }
    if (url === undefined) {
      reader.problem('config.source', node, field, `"${trimmed}" is not a valid URL`);
      return undefined;
    }
    if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      return { source: trimmed, kind: 'url' };
    }
    const message =
      url.protocol === 'http:'
        ? 'plain http is only accepted for this machine (127.0.0.1, ::1, localhost); use https'
        : `${url.protocol.replace(/:$/, '')} URLs are not supported; use an https URL or a local path`;
    reader.problem('config.source', node, field, message);
    return undefined;
  }
  if (looksLikeScpAddress(trimmed)) {
    reader.problem(
      'config.source',
      node,
      field,
      `"${trimmed}" is an ssh address; berth fetches over https only`,
    );
    return undefined;
  }
  return { source: localSource(trimmed, reader.file), kind: 'path' };
}

function subPathOf(reader: Reader, node: unknown, field: string): string | undefined | null {
  const text = reader.string(node, field, 'manifests/');
  if (text === undefined) return null;
  if (path.posix.isAbsolute(text) || text.includes('\\')) {
    reader.problem('config.path', node, field, `"${text}" must be relative to the repository root`);
    return null;
  }
  const normal = path.posix.normalize(text).replace(/^\.\/+|\/+$/g, '');
  if (normal === '..' || normal.startsWith('../')) {
    reader.problem('config.path', node, field, `"${text}" leaves the repository`);
    return null;
  }
  return normal === '' || normal === '.' ? undefined : normal;
}

function appOf(
  reader: Reader,
  node: unknown,
  index: number,
  names: Map<string, number>,
): AppConfig | undefined {
  const field = `apps[${index}]`;
  const entries = reader.entries(node, field, APP_KEYS, 'name, source, ref, ...');
  if (entries === undefined) return undefined;
  const before = reader.problems.length;

  let name: string | undefined;
  const nameEntry = entries.get('name');
  if (nameEntry === undefined) {
    reader.problem('config.required', node, field, 'missing "name"');
  } else {
    name = reader.string(nameEntry.value, `${field}.name`, 'guestbook');
    if (name !== undefined) {
      try {
        checkAppName(name);
        const first = names.get(name);
        if (first === undefined) {
          names.set(name, index);
        } else {
          reader.problem(
            'config.duplicate-app',
            nameEntry.value,
            `${field}.name`,
            `"${name}" is already the name of apps[${first}]`,
          );
        }
      } catch (error) {
        if (!isBerthError(error)) throw error;
        reader.problem(
          'config.app-name',
          nameEntry.value,
          `${field}.name`,
          `${error.message}; use lowercase letters, digits and "-", at most 63 characters`,
        );
      }
    }
  }

  let source: { source: string; kind: 'url' | 'path' } | undefined;
  const sourceEntry = entries.get('source');
  if (sourceEntry === undefined) {
    reader.problem('config.required', node, field, 'missing "source" (an https URL or a path)');
  } else {
    source = sourceOf(reader, sourceEntry.value, `${field}.source`);
  }

  const refEntry = entries.get('ref');
  let ref: string | undefined;
  if (refEntry !== undefined) {
    ref = reader.string(refEntry.value, `${field}.ref`, 'main');
    if (ref !== undefined && ref.trim() === '') {
      reader.problem('config.type', refEntry.value, `${field}.ref`, 'is empty; e.g. main');
    }
  }

  const pathEntry = entries.get('path');
  const subPath =
    pathEntry === undefined ? undefined : subPathOf(reader, pathEntry.value, `${field}.path`);

  const intervalEntry = entries.get('interval');
  let intervalMs: number | undefined;
  if (intervalEntry !== undefined) {
    intervalMs = durationOf(reader, intervalEntry.value, `${field}.interval`);
    if (intervalMs !== undefined && source?.kind === 'path') {
      reader.problem(
        'config.conflict',
        intervalEntry.key,
        `${field}.interval`,
        'only https sources are fetched on an interval; local repositories are watched',
      );
    }
  }

  const pruneEntry = entries.get('prune');
  const prune =
    pruneEntry === undefined ? true : reader.boolean(pruneEntry.value, `${field}.prune`);
  const healEntry = entries.get('selfHeal');
  const selfHeal =
    healEntry === undefined ? true : reader.boolean(healEntry.value, `${field}.selfHeal`);

  if (
    reader.problems.length > before ||
    name === undefined ||
    source === undefined ||
    prune === undefined ||
    selfHeal === undefined ||
    subPath === null
  ) {
    return undefined;
  }
  return {
    name,
    source: source.source,
    sourceKind: source.kind,
    ...(ref === undefined ? {} : { ref }),
    ...(subPath === undefined ? {} : { path: subPath }),
    ...(source.kind === 'url' ? { intervalMs: intervalMs ?? DEFAULT_INTERVAL_MS } : {}),
    prune,
    selfHeal,
    origin: reader.originOf(node),
  };
}

function webhookOf(reader: Reader, node: unknown): WebhookConfig | undefined {
  const entries = reader.entries(node, 'webhook', WEBHOOK_KEYS, 'secret or secretFile');
  if (entries === undefined) return undefined;
  const secret = entries.get('secret');
  const secretFile = entries.get('secretFile');
  if (secret !== undefined && secretFile !== undefined) {
    reader.problem(
      'config.conflict',
      secretFile.key,
      'webhook.secretFile',
      'give secret or secretFile, not both',
    );
    return undefined;
  }
  if (secret !== undefined) {
    const value = reader.string(secret.value, 'webhook.secret', 'a long random string');
    if (value === undefined) return undefined;
    if (value === '') {
      reader.problem('config.type', secret.value, 'webhook.secret', 'is empty');
      return undefined;
    }
    return { secret: value };
  }
  if (secretFile !== undefined) {
    const value = reader.string(secretFile.value, 'webhook.secretFile', 'webhook-secret.txt');
    if (value === undefined) return undefined;
    if (value.trim() === '') {
      reader.problem('config.type', secretFile.value, 'webhook.secretFile', 'is empty');
      return undefined;
    }
    return { secretFile: localSource(value.trim(), reader.file) };
  }
  reader.problem('config.required', node, 'webhook', 'missing "secret" or "secretFile"');
  return undefined;
}

/**
 * Reads `berth.yaml`. `file` names it in problems and is the folder relative local paths
 * (sources, `secretFile`) are resolved against: give an absolute path to get absolute paths.
 */
export function parseAppsConfig(text: string, file: string): ParsedAppsConfig {
  const reader = new Reader(text, file);
  const apps: AppConfig[] = [];
  let webhook: WebhookConfig | undefined;
  const root = reader.resolve(reader.doc.contents);
  if (reader.problems.length === 0 && root !== null && root !== undefined) {
    const entries = reader.entries(root, '', TOP_KEYS, 'apps and webhook');
    const appsEntry = entries?.get('apps');
    if (appsEntry !== undefined) {
      const list = reader.resolve(appsEntry.value);
      if (isSeq(list)) {
        const names = new Map<string, number>();
        list.items.forEach((item, index) => {
          const app = appOf(reader, item, index, names);
          if (app !== undefined) apps.push(app);
        });
      } else if (!(isScalar(list) && list.value === null)) {
        reader.problem('config.type', appsEntry.value, 'apps', 'must be a list of apps');
      }
    }
    const webhookEntry = entries?.get('webhook');
    if (webhookEntry !== undefined) webhook = webhookOf(reader, webhookEntry.value);
  }
  const problems = [...reader.problems].sort(
    (a, b) => a.origin.line - b.origin.line || a.origin.column - b.origin.column,
  );
  return { config: { apps, ...(webhook === undefined ? {} : { webhook }) }, problems };
}
