/**
 * The operator server (`berth serve`): the embedded operator, listening where agents on other
 * hosts can reach it, with the operator API (`/api/v1/...`), berth's git host (`/git/<app>.git`)
 * and the webhook receiver (`POST /api/v1/webhook`) on the same HTTP server, and the apps
 * controller keeping every app in sync. Its token lives in `<data-dir>/token` (made on first
 * start, mode 0600, then reused); while it runs, `<data-dir>/server.json` says where it answers,
 * so clients on this host find it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { loadOrCreateToken } from '../agent/http-server.js';
import { createOperatorApi } from '../api/operator-api.js';
import {
  type AppsConfig,
  formatConfigProblem,
  type ParsedAppsConfig,
  parseAppsConfig,
} from '../daemon/config.js';
import { type AppsController, createAppsController } from '../daemon/controller.js';
import { type DriftPolicyStamp, stampDriftPolicy } from '../daemon/drift-policy.js';
import { createPushDeploy } from '../daemon/push.js';
import { createWebhookHandler, matchApps } from '../daemon/webhook.js';
import { createGitServer } from '../gitserver/git-server.js';
import { BerthError } from '../model/errors.js';
import { createSourceReader } from '../source/reader.js';
import {
  type EmbeddedOperator,
  type EmbeddedOperatorOptions,
  startEmbeddedOperator,
} from './embedded.js';
import { createOperatorMetrics, measuredSourceReader, podPhaseOf } from './metrics.js';
import { readOperatorState } from './readout.js';
import { syncApp } from './sync-app.js';

/** `berth serve` listens here unless told otherwise. */
export const DEFAULT_SERVER_LISTEN = { host: '127.0.0.1', port: 7070 } as const;

/** What `<data-dir>/server.json` holds while a server runs. */
export interface ServerRecord {
  readonly url: string;
  readonly pid: number;
  readonly startedAt: string;
}

export const SERVER_RECORD_FILE = 'server.json';
export const TOKEN_FILE = 'token';
/** Below the data dir: the bare repositories of pushed apps. */
export const REPOS_DIR = 'git';
/** Below the data dir: where https apps are fetched. */
export const SOURCES_DIR = 'sources';
/** The webhook receiver's path (before the operator API sees `/api/`). */
export const WEBHOOK_PATH = '/api/v1/webhook';

export interface OperatorServerOptions
  extends Omit<EmbeddedOperatorOptions, 'token' | 'handler' | 'dataDir'> {
  readonly dataDir: string;
  /** @default DEFAULT_SERVER_LISTEN */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Starts the operator. @default startEmbeddedOperator */
  readonly startOperator?: (options: EmbeddedOperatorOptions) => Promise<EmbeddedOperator>;
  /** The apps config file (berth.yaml), re-read when it changes. */
  readonly configFile?: string;
  /** Watch local repositories' refs (and the config file). @default true */
  readonly watch?: boolean;
}

export interface OperatorServer {
  readonly url: string;
  readonly token: string;
  /** Where the token is kept. */
  readonly tokenFile: string;
  readonly operator: EmbeddedOperator;
  /** The apps kept in sync (config file, pushes, added apps). */
  readonly apps: AppsController;
  /** Stops the operator (pods keep running), removes server.json. Safe twice. */
  close(): Promise<void>;
}

/** Writes `file` whole or not at all: a private temp file, then a rename over it. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fsp.writeFile(temp, text, { mode: 0o600, flag: 'wx' });
    await fsp.rename(temp, file);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
}

/** Reads and parses the config file; a file that cannot be read is one problem at 1:1. */
async function readAppsConfig(file: string): Promise<ParsedAppsConfig> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    return {
      config: { apps: [] },
      problems: [
        {
          code: 'config.syntax',
          origin: { file, line: 1, column: 1 },
          message: `cannot be read: ${error instanceof Error ? error.message : String(error)}`,
        },
      ],
    };
  }
  return parseAppsConfig(text, file);
}

/** The webhook secret the config names (a secretFile is read, relative to the config file). */
async function webhookSecretOf(config: AppsConfig, file: string): Promise<string | undefined> {
  const webhook = config.webhook;
  if (webhook === undefined) return undefined;
  if ('secret' in webhook) return webhook.secret;
  const secretFile = path.resolve(path.dirname(file), webhook.secretFile);
  const secret = (await fsp.readFile(secretFile, 'utf8')).trim();
  return secret === '' ? undefined : secret;
}

export async function startOperatorServer(options: OperatorServerOptions): Promise<OperatorServer> {
  const { dataDir } = options;
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tokenFile = path.join(dataDir, TOKEN_FILE);
  const token = await loadOrCreateToken(dataDir);
  const log = options.log ?? (() => {});
  const start = options.startOperator ?? startEmbeddedOperator;
  const {
    startOperator: _start,
    configFile: configOption,
    watch: _watch,
    ...embeddedOptions
  } = options;
  const watching = options.watch ?? true;

  // A config file with problems at start is an error: nothing runs from a file half read.
  const configFile = configOption === undefined ? undefined : path.resolve(configOption);
  let initialConfig: AppsConfig | undefined;
  let webhookSecret: string | undefined;
  if (configFile !== undefined) {
    const parsed = await readAppsConfig(configFile);
    if (parsed.problems.length > 0) {
      throw new BerthError(
        'CONFIG_INVALID',
        `${configFile} has problems:\n${parsed.problems.map(formatConfigProblem).join('\n')}`,
        { hint: 'fix the file and start again; berth validate-style positions are file:line:col' },
      );
    }
    initialConfig = parsed.config;
    webhookSecret = await webhookSecretOf(parsed.config, configFile);
  }

  let controller: AppsController | undefined;
  let driftPolicy: DriftPolicyStamp | undefined;
  const metrics = createOperatorMetrics();
  let started = false;
  const reposDir = path.join(dataDir, REPOS_DIR);
  const operator = await start({
    ...embeddedOptions,
    listen: options.listen ?? DEFAULT_SERVER_LISTEN,
    token,
    onPass: (pass) => {
      metrics.reconcileFinished(pass.seconds);
      options.onPass?.(pass);
    },
    // Pods of apps with selfHeal off reach their node stamped with it (and their last sync).
    handOut: (endpoint, store) => {
      driftPolicy = stampDriftPolicy(endpoint, store);
      return driftPolicy.endpoint;
    },
    handler: (running) => {
      const now = () => new Date(options.clock?.now() ?? Date.now()).toISOString();
      const sync = (request: Parameters<typeof syncApp>[1]) => {
        const begun = performance.now();
        const seconds = () => (performance.now() - begun) / 1000;
        try {
          const result = syncApp({ store: running.store, engine: running.engine, now }, request);
          const outcome = result.refused === undefined ? 'succeeded' : 'refused';
          metrics.syncFinished(request.app, outcome, seconds());
          // A sync puts drift left by selfHeal off back: the app's pods get its new sync id.
          driftPolicy?.refresh();
          return result;
        } catch (error) {
          metrics.syncFinished(request.app, 'failed', seconds());
          throw error;
        }
      };
      // https apps are fetched into the data dir: the daemon's caches go with its state.
      const cacheDir = path.join(dataDir, SOURCES_DIR);
      const sources = createSourceReader({ cacheDir });
      const apps = createAppsController({
        store: running.store,
        sync,
        sources: measuredSourceReader(sources, metrics),
        reposDir,
        cacheDir,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        watchLocal: watching,
        log,
        onSettingsChanged: () => driftPolicy?.refresh(),
        forget: (app) => running.engine.forget(app),
      });
      controller = apps;
      const pushes = createPushDeploy({
        controller: apps,
        store: running.store,
        sources,
        reposDir,
        log,
      });
      const git = createGitServer({
        reposDir,
        token,
        checkPush: pushes.checkPush,
        onPushed: pushes.onPushed,
        log,
      });
      const webhook = createWebhookHandler({
        secret: () => webhookSecret,
        onPush: (event) => {
          const candidates = apps.apps().map((app) => ({
            name: app.name,
            source: app.source,
            ref: app.settings.ref,
          }));
          for (const app of matchApps(event, candidates)) apps.trigger(app.name);
        },
        onDelivery: (outcome) => metrics.webhookDelivery(outcome),
        log,
      });
      const api = createOperatorApi({
        token,
        dataDir,
        log,
        sync: async (request) => sync(request),
        daemon: {
          apps,
          store: running.store,
          ready: () => {
            if (!started) return { ready: false, reason: 'starting' };
            try {
              running.store.apps();
            } catch (error) {
              return { ready: false, reason: `store: ${String(error)}` };
            }
            return { ready: true, reason: 'ok' };
          },
          metrics: () =>
            metrics.render({
              apps: apps.statuses(),
              podPhases: running.store.assignments().map((a) => podPhaseOf(a.pod)),
            }),
        },
        read: async () => {
          const at = options.clock?.now() ?? Date.now();
          const podsOnEngine = await running.agent?.podsOnEngine();
          return readOperatorState(
            running.store,
            at,
            {
              endpoint: running.endpoint,
              ...(podsOnEngine === undefined ? {} : { podsOnEngine }),
            },
            running.nodeGraceMs,
          );
        },
      });
      return (request: IncomingMessage, response: ServerResponse) => {
        const url = request.url ?? '/';
        if (url === '/git' || url.startsWith('/git/')) {
          git.handle(request, response);
          return;
        }
        const pathname = url.replace(/[?#].*$/, '');
        if (pathname === WEBHOOK_PATH || pathname === `${WEBHOOK_PATH}/`) {
          void webhook(request, response);
          return;
        }
        api(request, response);
      };
    },
  });
  const apps = controller;
  if (apps === undefined) {
    await operator.close();
    throw new Error('the operator started without its request handler');
  }
  if (initialConfig !== undefined && configFile !== undefined) {
    apps.setConfigApps(initialConfig.apps, path.dirname(configFile));
  }
  apps.start();
  // The engine ran its first pass when the operator started; the apps' workers now run.
  started = true;

  let configWatcher: FSWatcher | undefined;
  if (configFile !== undefined && watching) {
    const reload = async (): Promise<void> => {
      const parsed = await readAppsConfig(configFile);
      if (parsed.problems.length > 0) {
        for (const problem of parsed.problems) log(`config: ${formatConfigProblem(problem)}`);
        log(`config: ${configFile} has problems; the running apps stay as they are`);
        return;
      }
      try {
        webhookSecret = await webhookSecretOf(parsed.config, configFile);
      } catch (error) {
        log(
          `config: cannot read the webhook secret: ${error instanceof Error ? error.message : String(error)}`,
        );
        return;
      }
      apps.setConfigApps(parsed.config.apps, path.dirname(configFile));
      log(`config: ${configFile} read; ${parsed.config.apps.length} apps`);
    };
    let reloading = Promise.resolve();
    configWatcher = watch(configFile, { ignoreInitial: true });
    configWatcher.on('all', () => {
      reloading = reloading.then(reload).catch((error: unknown) => log(`config: ${String(error)}`));
    });
    configWatcher.on('error', (error) => log(`config: watching ${configFile}: ${String(error)}`));
  }

  const recordFile = path.join(dataDir, SERVER_RECORD_FILE);
  try {
    const record: ServerRecord = {
      url: operator.url,
      pid: process.pid,
      startedAt: new Date().toISOString(),
    };
    await writeFileAtomic(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  } catch (error) {
    await configWatcher?.close();
    await apps.stop();
    await operator.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    url: operator.url,
    token,
    tokenFile,
    operator,
    apps,
    close() {
      closing ??= (async () => {
        // Gone first, so no client finds an address that no longer answers.
        await fsp.rm(recordFile, { force: true });
        await configWatcher?.close();
        // The current step of every app finishes; nothing new starts.
        await apps.stop();
        await operator.close();
      })();
      return closing;
    },
  };
}
