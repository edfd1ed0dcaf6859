/**
 * `berth serve`: the operator as a daemon. Holds the data dir (store and lock), serves the node
 * protocol to agents (`berth agent --server URL`) and the operator API to client commands on
 * one address, and by default runs this host's node agent too. SIGINT/SIGTERM stop it; pods
 * keep running and the next operator on the same data dir adopts them.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseListenAddress } from '../agent/http-server.js';
import { defaultOperatorDataDir } from '../model/data-dirs.js';
import { BerthError } from '../model/errors.js';
import { createLogger } from '../operator/log.js';
import type { OperatorServer, OperatorServerOptions } from '../operator/server.js';
import { defaultNodeName } from './agent.js';
import { parseDuration } from './apply.js';
import { type CliIo, EXIT, processStopSignal, writeLine } from './io.js';

export const SERVE_HELP = `Usage: berth serve [options]

Run the operator as a server: it keeps the store in its data dir, places pods on the nodes
whose agents attach to it (berth agent --server URL --token-file DATA_DIR/token), and answers
berth apply, diff and get, which find it through DATA_DIR/server.json, --server or
$BERTH_SERVER. It keeps every app in sync with git: apps of the --config file, apps pushed to
http://HOST:PORT/git/<app>.git (the token is the password; a push to a new name makes the app),
and webhooks at POST /api/v1/webhook wake https apps at once. Stopping it (SIGINT, SIGTERM)
leaves every pod running.

Options:
      --listen HOST:PORT        where agents and clients reach it; port 0 picks a free port
                                (@default 127.0.0.1:7070)
      --data-dir DIR            store, lock, token and server.json
                                (@default $XDG_DATA_HOME/berth/operator, else
                                ~/.local/share/berth/operator)
      --config FILE             the apps to keep in sync and the webhook secret (berth.yaml);
                                re-read when it changes (a file with problems is reported and
                                the running apps stay as they are)
      --no-agent                run no node agent in this process (nodes are remote agents only)
      --node-name NAME          this host's node name (@default the host name, or $BERTH_NODE_NAME)
      --node-grace DURATION     silence after which a node is NotReady (e.g. 40s) (@default 40s)
      --eviction-timeout DURATION
                                silence after which a NotReady node's ReplicationController
                                pods are replaced on other nodes (@default 60s)
      --service-cidr CIDR       where services' cluster IPs come from; agents on other hosts
                                take the same --service-cidr (@default 10.96.0.0/16)
  -h, --help                    show this help

The token agents and clients give is in DATA_DIR/token (made with mode 0600 on first start,
kept after). Exit status: 0 after a clean stop, 2 on a usage error or when it cannot start
(another operator holds the data dir, the address is taken).`;

export interface ServeDeps {
  readonly startServer?: (options: OperatorServerOptions) => Promise<OperatorServer>;
  /** Aborted to stop. @default aborted by SIGINT or SIGTERM */
  readonly stopSignal?: AbortSignal;
}

export async function runServe(
  argv: readonly string[],
  io: CliIo,
  deps: ServeDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'no-agent': { type: 'boolean' },
      'node-name': { type: 'string' },
      'node-grace': { type: 'string' },
      'eviction-timeout': { type: 'string' },
      'service-cidr': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, SERVE_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) {
    throw new BerthError('CLI_USAGE', `berth serve takes no arguments (got "${positionals[0]}")`, {
      hint: 'berth serve [--listen HOST:PORT] [--data-dir DIR]',
    });
  }
  const listen = parseListenAddress(values.listen ?? '127.0.0.1:7070');
  const nodeGraceMs =
    values['node-grace'] === undefined
      ? undefined
      : parseDuration(values['node-grace'], '--node-grace');
  const evictionTimeoutMs =
    values['eviction-timeout'] === undefined
      ? undefined
      : parseDuration(values['eviction-timeout'], '--eviction-timeout');
  if (nodeGraceMs !== undefined && nodeGraceMs <= 0) {
    throw new BerthError('CLI_USAGE', '--node-grace must be more than 0');
  }
  if (
    evictionTimeoutMs !== undefined &&
    nodeGraceMs !== undefined &&
    evictionTimeoutMs < nodeGraceMs
  ) {
    throw new BerthError('CLI_USAGE', '--eviction-timeout must not be shorter than --node-grace', {
      hint: 'a node is NotReady before its pods are replaced, e.g. --node-grace 40s --eviction-timeout 60s',
    });
  }
  const dataDir = path.resolve(io.cwd, values['data-dir'] ?? defaultOperatorDataDir(io.env));
  const nodeName = values['node-name'] ?? io.env.BERTH_NODE_NAME ?? defaultNodeName();

  // Background news and trouble as structured records (JSON lines unless stderr is a terminal).
  const logger = createLogger({ destination: io.stderr, base: { component: 'serve' } });
  const owned = deps.stopSignal === undefined ? processStopSignal() : undefined;
  const stopSignal = deps.stopSignal ?? owned!.signal;
  try {
    const start = deps.startServer ?? (await import('../operator/server.js')).startOperatorServer;
    const server = await start({
      dataDir,
      listen,
      nodeName,
      localAgent: values['no-agent'] !== true,
      ...(values.config === undefined ? {} : { configFile: path.resolve(io.cwd, values.config) }),
      ...(nodeGraceMs === undefined ? {} : { nodeGraceMs }),
      ...(evictionTimeoutMs === undefined ? {} : { evictionTimeoutMs }),
      ...(values['service-cidr'] === undefined ? {} : { serviceCidr: values['service-cidr'] }),
      log: (line) => logger.info(line),
    });
    try {
      const agentPart = values['no-agent'] === true ? 'no local agent' : `local node ${nodeName}`;
      writeLine(
        io.stdout,
        `berth serve: operator at ${server.url} (token in ${server.tokenFile}; ${agentPart})`,
      );
      await new Promise<void>((resolve) => {
        if (stopSignal.aborted) resolve();
        else stopSignal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      await server.close();
    }
    writeLine(io.stdout, 'berth serve: stopped; pods left running');
    return EXIT.ok;
  } finally {
    owned?.dispose();
  }
}
