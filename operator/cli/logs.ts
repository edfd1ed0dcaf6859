/**
 * `berth logs POD`: a container's log, read straight from the local Docker Engine. The pod's
 * containers are found by berth's labels among the containers of this machine's nodes (the
 * local node name, plus the nodes the operator's store knows when it can be read), so the
 * command works with or without a running operator.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ContainerRuntime, ObservedContainer } from '../agent/runtime.js';
import { BerthError, isBerthError } from '../model/errors.js';
import { DATABASE_FILE_NAME, openStore } from '../store/store.js';
import { defaultNodeName } from './agent.js';
import { defaultOperatorDataDir } from './get.js';
import { type CliIo, EXIT, writeLine } from './io.js';

export const LOGS_HELP = `Usage: berth logs POD [-c CONTAINER] [-f] [--tail N] [-n NAMESPACE]

Print the log of one of the pod's containers, read from this host's Docker Engine.

Options:
  -c, --container NAME  the container (needed when the pod has more than one)
  -f, --follow          keep printing new lines until interrupted
      --tail N          only the last N lines
  -n, --namespace NS    the pod's namespace (default "default")
      --node-name NAME  look only at this node's containers
                        (default: $BERTH_NODE_NAME or the host name, and the store's nodes)
      --data-dir DIR    the operator's data dir (its node list widens the search)

Exit status: 0 printed, 2 error (unknown pod or container, engine unreachable).`;

/** What logs needs of the runtime; tests may pass the real one or a stand-in. */
export type LogsRuntime = Pick<ContainerRuntime, 'list' | 'logs'>;

export interface LogsDeps {
  /** @default the Docker runtime (loaded only when the command runs) */
  readonly runtime?: LogsRuntime;
}

export async function runLogs(
  argv: readonly string[],
  io: CliIo,
  deps: LogsDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      container: { type: 'string', short: 'c' },
      follow: { type: 'boolean', short: 'f' },
      tail: { type: 'string' },
      namespace: { type: 'string', short: 'n', default: 'default' },
      'node-name': { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, LOGS_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new BerthError('CLI_USAGE', 'berth logs takes exactly one POD', {
      hint: 'berth logs web-1 -c nginx   (see berth logs --help)',
    });
  }
  const podName = positionals[0]!;
  const tail = parseTail(values.tail);
  const namespace = values.namespace;

  const nodes =
    values['node-name'] !== undefined
      ? [values['node-name']]
      : localNodes(io, values['data-dir'] ?? defaultOperatorDataDir(io.env));
  const runtime = deps.runtime ?? (await dockerRuntime());

  const found: ObservedContainer[] = [];
  for (const node of nodes) {
    const containers = await runtime.list(node);
    found.push(
      ...containers.filter(
        (c) => c.role === 'container' && c.podNamespace === namespace && c.podName === podName,
      ),
    );
  }
  if (found.length === 0) {
    throw new BerthError(
      'AGENT_POD_NOT_FOUND',
      `pod "${podName}" not found in namespace "${namespace}" on this host (nodes: ${nodes.join(', ')})`,
      { hint: 'berth get pods lists the pods; -n NAMESPACE for another namespace' },
    );
  }
  const names = [...new Set(found.map((c) => c.containerName))].sort();
  const wanted = values.container ?? (names.length === 1 ? names[0] : undefined);
  if (wanted === undefined) {
    throw new BerthError(
      'CLI_USAGE',
      `pod "${podName}" has ${names.length} containers: ${names.join(', ')}; choose one with -c`,
      { hint: `berth logs ${podName} -c ${names[0] ?? 'NAME'}` },
    );
  }
  const container = newest(found.filter((c) => c.containerName === wanted));
  if (container === undefined) {
    throw new BerthError(
      'AGENT_CONTAINER_NOT_FOUND',
      `container "${wanted}" not found in pod "${podName}"; its containers: ${names.join(', ')}`,
    );
  }

  const stream = await runtime.logs(container.id, {
    follow: values.follow === true,
    ...(tail === undefined ? {} : { tail }),
  });
  await copyTo(stream, io.stdout);
  return EXIT.ok;
}

function parseTail(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) {
    throw new BerthError('CLI_USAGE', `--tail: "${text}" is not a number of lines`, {
      hint: 'e.g. --tail 20',
    });
  }
  return Number(text.trim());
}

/**
 * This host's node name (as `berth apply` and `berth agent` choose it) and the nodes in the
 * operator's store. A running operator holds the store's lock; then the local name alone.
 */
function localNodes(io: CliIo, dataDirFlag: string): string[] {
  const nodes = new Set<string>([io.env.BERTH_NODE_NAME ?? defaultNodeName()]);
  const dataDir = path.resolve(io.cwd, dataDirFlag);
  // Reading must not create a store.
  if (!existsSync(path.join(dataDir, DATABASE_FILE_NAME))) return [...nodes];
  try {
    const store = openStore(dataDir);
    try {
      for (const node of store.nodes()) nodes.add(node.name);
    } finally {
      store.close();
    }
  } catch (error) {
    if (!isBerthError(error) || error.code !== 'STORE_LOCKED') throw error;
  }
  return [...nodes];
}

/** The current container of that name: a running one, else the one started last. */
function newest(containers: readonly ObservedContainer[]): ObservedContainer | undefined {
  const ranked = [...containers].sort((a, b) => {
    const running = Number(b.state === 'running') - Number(a.state === 'running');
    if (running !== 0) return running;
    const aStart = a.startedAt ?? '';
    const bStart = b.startedAt ?? '';
    return aStart < bStart ? 1 : aStart > bStart ? -1 : 0;
  });
  return ranked[0];
}

async function dockerRuntime(): Promise<LogsRuntime> {
  // Loaded when used, so other commands never load dockerode.
  const { createDockerRuntime } = await import('../agent/docker-runtime.js');
  return createDockerRuntime();
}

/** Copies without ending the destination (it is the process's stdout). */
async function copyTo(
  source: NodeJS.ReadableStream,
  destination: NodeJS.WritableStream,
): Promise<void> {
  for await (const chunk of source) {
    if (!destination.write(chunk)) {
      await new Promise<void>((resolve) => destination.once('drain', () => resolve()));
    }
  }
}
