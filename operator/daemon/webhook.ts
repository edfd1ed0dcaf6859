/**
 * Webhook deliveries from git hosts (`POST /api/v1/webhook`): signature checks for GitHub,
 * GitLab, Gitea and Gogs, the repository and ref a push names, and which apps it concerns.
 * Nothing here starts a sync: a verified push is handed to `onPush`, which decides.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type WebhookProvider = 'github' | 'gitlab' | 'gitea' | 'gogs';

export type WebhookHeaders = Readonly<Record<string, string | string[] | undefined>>;

export type WebhookVerdict =
  | { readonly ok: true; readonly provider: WebhookProvider }
  | { readonly ok: false; readonly reason: string };

/** What a push event names. `repoUrls` as the host wrote them; `ref` is full (`refs/heads/main`). */
export interface PushEvent {
  readonly repoUrls: string[];
  readonly ref?: string;
  /** The commit the ref points at after the push (all zeros when the ref was deleted). */
  readonly after?: string;
  /** The repository's default branch, when the host says (matches apps that track HEAD). */
  readonly defaultBranch?: string;
}

/** A verified push, as `onPush` receives it. */
export interface WebhookPush extends PushEvent {
  readonly provider: WebhookProvider;
  /** The host's delivery id, when it sends one. */
  readonly delivery?: string;
}

/** How a delivery ended; one per request, for metrics. */
export type WebhookOutcome =
  | 'accepted'
  | 'ignored'
  | 'unauthorized'
  | 'bad-request'
  | 'too-large'
  | 'method-not-allowed'
  | 'failed';

/** Deliveries larger than this are refused (413) without being buffered. */
export const WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;

/** Signature headers in the order they are looked for (Gitea also sends Gogs' and GitHub's). */
const SIGNATURE_HEADERS: readonly (readonly [WebhookProvider, string])[] = [
  ['gitea', 'x-gitea-signature'],
  ['gogs', 'x-gogs-signature'],
  ['gitlab', 'x-gitlab-token'],
  ['github', 'x-hub-signature-256'],
];

const EVENT_HEADER: Record<WebhookProvider, string> = {
  github: 'x-github-event',
  gitlab: 'x-gitlab-event',
  gitea: 'x-gitea-event',
  gogs: 'x-gogs-event',
};

const DELIVERY_HEADERS = ['x-github-delivery', 'x-gitea-delivery', 'x-gogs-delivery'];

/** A header by case-insensitive name; undefined when absent, a list when sent more than once. */
function headerValues(headers: WebhookHeaders, name: string): string[] | undefined {
  let found: string[] | undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    found = [...(found ?? []), ...(Array.isArray(value) ? value : [value])];
  }
  return found;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const values = headerValues(headers, name);
  return values?.length === 1 ? values[0] : undefined;
}

/** Compares two hex HMACs in constant time; the given one is checked for shape first. */
function hmacMatches(givenHex: string, body: Buffer, secret: string): boolean | 'malformed' {
  if (!/^[0-9a-fA-F]{64}$/.test(givenHex)) return 'malformed';
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(givenHex, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Compares a shared token through its digest, so neither its content nor its length leaks. */
function tokenMatches(given: string, secret: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks a delivery's signature against `secret`: GitHub's `X-Hub-Signature-256: sha256=<hex>`,
 * GitLab's `X-Gitlab-Token`, Gitea's `X-Gitea-Signature` and Gogs' `X-Gogs-Signature` (HMAC-SHA256
 * of the raw body, hex). The provider is the first of Gitea, Gogs, GitLab, GitHub whose header is
 * present. Header names are matched case-insensitively.
 */
export function verifyWebhook(
  headers: WebhookHeaders,
  body: Buffer,
  secret: string,
): WebhookVerdict {
  if (secret === '') return { ok: false, reason: 'no webhook secret configured' };
  for (const [provider, name] of SIGNATURE_HEADERS) {
    const values = headerValues(headers, name);
    if (values === undefined) continue;
    if (values.length !== 1) return { ok: false, reason: `several ${name} headers` };
    const value = values[0]!.trim();
    let verdict: boolean | 'malformed';
    if (provider === 'gitlab') {
      verdict = tokenMatches(value, secret);
    } else if (provider === 'github') {
      verdict = value.startsWith('sha256=')
        ? hmacMatches(value.slice(7), body, secret)
        : 'malformed';
    } else {
      verdict = hmacMatches(value, body, secret);
    }
    if (verdict === 'malformed') return { ok: false, reason: `malformed ${name} header` };
    return verdict ? { ok: true, provider } : { ok: false, reason: 'signature mismatch' };
  }
  return { ok: false, reason: 'no signature header' };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringsOf(record: unknown, keys: readonly string[]): string[] {
  if (!isRecord(record)) return [];
  const out: string[] = [];
  for (const key of keys) {
    const value = record[key];
    if (typeof value === 'string' && value !== '' && !out.includes(value)) out.push(value);
  }
  return out;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The JSON payload of a delivery: a JSON body, or GitHub's form encoding (`payload=<json>`). */
function payloadOf(headers: WebhookHeaders, body: Buffer): unknown {
  const type = header(headers, 'content-type') ?? '';
  let text = body.toString('utf8');
  if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
    text = new URLSearchParams(text).get('payload') ?? '';
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** True when the event header says push, or (no header) the body looks like a push. */
function isPushEvent(provider: WebhookProvider, headers: WebhookHeaders, payload: unknown) {
  const event = header(headers, EVENT_HEADER[provider])?.trim().toLowerCase();
  if (event !== undefined) {
    return provider === 'gitlab'
      ? event === 'push hook' || event === 'tag push hook'
      : event === 'push';
  }
  if (!isRecord(payload)) return false;
  if (provider === 'gitlab')
    return payload.object_kind === 'push' || payload.object_kind === 'tag_push';
  return typeof payload.ref === 'string' && !('zen' in payload);
}

/**
 * The repository and ref a push delivery names, or undefined for anything else (ping, issues,
 * a body that is not JSON). GitHub: repository.clone_url/html_url/ssh_url; GitLab:
 * project.git_http_url/web_url; Gitea and Gogs: repository.clone_url (and html_url, ssh_url).
 */
export function pushEventOf(
  provider: WebhookProvider,
  headers: WebhookHeaders,
  body: Buffer,
): PushEvent | undefined {
  const payload = payloadOf(headers, body);
  if (!isRecord(payload) || !isPushEvent(provider, headers, payload)) return undefined;
  const repo = provider === 'gitlab' ? payload.project : payload.repository;
  const repoUrls =
    provider === 'gitlab'
      ? stringsOf(repo, ['git_http_url', 'web_url'])
      : stringsOf(repo, ['clone_url', 'html_url', 'ssh_url']);
  if (repoUrls.length === 0) return undefined;
  const ref = optionalString(payload.ref);
  const after = optionalString(payload.after);
  const defaultBranch = isRecord(repo) ? optionalString(repo.default_branch) : undefined;
  return {
    repoUrls,
    ...(ref === undefined ? {} : { ref }),
    ...(after === undefined ? {} : { after }),
    ...(defaultBranch === undefined ? {} : { defaultBranch }),
  };
}

/**
 * A repository URL in comparable form: scheme and host lower-case, no user info, no default
 * port, no trailing `/` or `.git`. Text that is not a URL is only trimmed the same way.
 */
export function normalizeRepoUrl(location: string): string {
  const trimmed = location.trim();
  let out: string;
  try {
    const url = new URL(trimmed);
    // URL lower-cases scheme and host and drops default ports; user info never names a repo.
    out = `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    out = trimmed;
  }
  let previous: string;
  do {
    previous = out;
    out = out.replace(/\/+$/, '').replace(/\.git$/i, '');
  } while (out !== previous);
  return out;
}

const FULL_SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/i;

function refMatches(appRef: string | undefined, event: PushEvent): boolean {
  if (event.ref === undefined) return true;
  if (appRef === undefined || appRef === '' || appRef === 'HEAD') {
    return event.defaultBranch === undefined || event.ref === `refs/heads/${event.defaultBranch}`;
  }
  // A pinned commit never moves: no push concerns it.
  if (FULL_SHA.test(appRef)) return false;
  return (
    event.ref === appRef ||
    event.ref === `refs/heads/${appRef}` ||
    event.ref === `refs/tags/${appRef}`
  );
}

/**
 * The apps a push concerns: those whose source is one of the event's repository URLs
 * (normalized) and whose tracked ref is the pushed one. An app without a ref tracks the
 * repository's HEAD: it matches a push to the default branch, or any push when the host does
 * not name its default branch.
 */
export function matchApps<
  T extends { readonly name: string; readonly source: string; readonly ref?: string | undefined },
>(event: PushEvent, apps: readonly T[]): T[] {
  const urls = new Set(event.repoUrls.map(normalizeRepoUrl));
  return apps.filter((app) => urls.has(normalizeRepoUrl(app.source)) && refMatches(app.ref, event));
}

export interface WebhookHandlerOptions {
  /** The shared secret; a function is asked on every delivery (the config file may change it). */
  readonly secret: string | (() => string | undefined);
  /** Called once per verified push; must not block (schedule the fetch, return). */
  readonly onPush: (event: WebhookPush) => void;
  /** One line per delivery; never the secret, the signature or the body. */
  readonly log: (line: string) => void;
  /** How each delivery ended, e.g. for a metrics counter. */
  readonly onDelivery?: (outcome: WebhookOutcome) => void;
  /** @default WEBHOOK_MAX_BODY_BYTES (1 MiB) */
  readonly maxBodyBytes?: number;
}

class BodyTooLarge extends Error {}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function answer(
  response: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...extra,
  });
  response.end(text);
}

/** A URL as logged: without user name or password. */
function shownUrl(location: string): string {
  try {
    const url = new URL(location);
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return location.replace(/^[^@/\s]+@/, '');
  }
}

/**
 * The `POST /api/v1/webhook` handler: 405 for other methods, 413 past the body limit, 401 (and
 * a log line, nothing triggered) for a missing or bad signature, 400 for a verified body that
 * is not JSON, 202 for a push (`onPush` called), 200 for pings and other events.
 */
export function createWebhookHandler(
  options: WebhookHandlerOptions,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const limit = options.maxBodyBytes ?? WEBHOOK_MAX_BODY_BYTES;
  const secretNow = () =>
    (typeof options.secret === 'function' ? options.secret() : options.secret) ?? '';
  const outcome = (value: WebhookOutcome) => {
    try {
      options.onDelivery?.(value);
    } catch {
      // A metrics hook must not change the answer.
    }
  };

  return async (request, response) => {
    const from = request.socket.remoteAddress ?? 'unknown';
    if (request.method !== 'POST') {
      outcome('method-not-allowed');
      answer(response, 405, { error: 'use POST' }, { allow: 'POST' });
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(request, limit);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        options.log(`webhook: refused a delivery from ${from}: body over ${limit} bytes`);
        outcome('too-large');
        answer(response, 413, { error: `body over ${limit} bytes` }, { connection: 'close' });
        request.resume();
      } else {
        // The client went away mid-body; there is no one to answer.
        outcome('bad-request');
        response.destroy();
      }
      return;
    }
    const headers = request.headers as WebhookHeaders;
    const delivery = DELIVERY_HEADERS.map((name) => header(headers, name)).find(
      (value) => value !== undefined,
    );
    const about = delivery === undefined ? '' : ` (delivery ${delivery})`;
    const verdict = verifyWebhook(headers, body, secretNow());
    if (!verdict.ok) {
      options.log(`webhook: refused a delivery from ${from}${about}: ${verdict.reason}`);
      outcome('unauthorized');
      answer(response, 401, { error: verdict.reason });
      return;
    }
    const { provider } = verdict;
    if (payloadOf(headers, body) === undefined) {
      options.log(`webhook: ${provider} delivery from ${from}${about} is not JSON; ignored`);
      outcome('bad-request');
      answer(response, 400, { error: 'body is not JSON' });
      return;
    }
    const push = pushEventOf(provider, headers, body);
    if (push === undefined) {
      const event = header(headers, EVENT_HEADER[provider]) ?? 'unnamed';
      options.log(`webhook: ${provider} ${event} event${about}; nothing to do`);
      outcome('ignored');
      answer(response, 200, { ok: true, event });
      return;
    }
    const event: WebhookPush = {
      ...push,
      provider,
      ...(delivery === undefined ? {} : { delivery }),
    };
    try {
      options.onPush(event);
    } catch (error) {
      options.log(
        `webhook: ${provider} push${about} could not be handled: ${error instanceof Error ? error.message : String(error)}`,
      );
      outcome('failed');
      answer(response, 500, { error: 'the push could not be handled; see the server log' });
      return;
    }
    const what = [`webhook: ${provider} push to ${shownUrl(push.repoUrls[0]!)}`];
    if (push.ref !== undefined) what.push(push.ref);
    if (push.after !== undefined) what.push(`at ${push.after.slice(0, 12)}`);
    options.log(`${what.join(' ')}${about}`);
    outcome('accepted');
    answer(response, 202, { ok: true, event: 'push' });
  };
}
