/**
 * `berth get pods|rc|services|nodes`: reads the embedded operator's store in the data dir and
 * prints kubectl-style tables (or a v1 List as JSON/YAML). Read-only use of the store: it opens
 * it only when no operator holds the data dir (a later issue adds `--server` to ask a running
 * one), and never creates a store that is not there.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { defaultOperatorDataDir } from '../model/data-dirs.js';
import { BerthError, isBerthError } from '../model/errors.js';
import { DATABASE_FILE_NAME, openStore, type Store } from '../store/index.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import {
  labelsOf,
  nameOf,
  namespaceOf,
  nodeObject,
  nodesTable,
  podsTable,
  replicationControllersTable,
  servicesTable,
  toV1List,
} from './tables.js';

export const GET_HELP = `Usage: berth get pods|rc|services|nodes [-n NAMESPACE] [-o wide|json|yaml] [--data-dir DIR]

Show what the operator keeps in its store, as kubectl get does.
  pods (po)                      NAME READY STATUS RESTARTS AGE (+ IP NODE with -o wide)
  replicationcontrollers (rc)    NAME DESIRED CURRENT READY AGE
  services (svc)                 NAME TYPE CLUSTER-IP PORT(S) AGE
  nodes (no)                     NAME STATUS AGE CAPACITY

Options:
  -n, --namespace NS    the namespace (@default default); nodes have none
  -o, --output FORMAT   wide, json or yaml (json/yaml print a v1 List)
      --data-dir DIR    the operator's data dir
                        (@default $XDG_DATA_HOME/berth/operator, else ~/.local/share/berth/operator)

Exit status: 0 shown, 2 error (also when a running operator holds the data dir).`;

type Resource = 'pods' | 'replicationcontrollers' | 'services' | 'nodes';

const RESOURCE_NAMES: Record<string, Resource> = {
  pods: 'pods',
  pod: 'pods',
  po: 'pods',
  replicationcontrollers: 'replicationcontrollers',
  replicationcontroller: 'replicationcontrollers',
  rc: 'replicationcontrollers',
  services: 'services',
  service: 'services',
  svc: 'services',
  nodes: 'nodes',
  node: 'nodes',
  no: 'nodes',
};

type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';

export interface GetDeps {
  /** The clock for AGE and node readiness; tests pass a fixed one. */
  readonly now?: () => Date;
}

export async function runGet(
  argv: readonly string[],
  io: CliIo,
  deps: GetDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      namespace: { type: 'string', short: 'n', default: 'default' },
      output: { type: 'string', short: 'o' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, GET_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new BerthError('CLI_USAGE', 'berth get takes exactly one resource type', {
      hint: 'berth get pods   (see berth get --help)',
    });
  }
  const resource = RESOURCE_NAMES[positionals[0]!.toLowerCase()];
  if (resource === undefined) {
    throw new BerthError('CLI_USAGE', `unknown resource type "${positionals[0]}"`, {
      hint: 'use pods, rc, services or nodes',
    });
  }
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'wide' && output !== 'json' && output !== 'yaml') {
    throw new BerthError('CLI_USAGE', `unknown output format "${output}"`, {
      hint: 'use -o wide, -o json or -o yaml',
    });
  }
  const namespace = values.namespace;
  const dataDir = path.resolve(io.cwd, values['data-dir'] ?? defaultOperatorDataDir(io.env));
  const now = (deps.now ?? (() => new Date()))();

  // Reading must not create a store: no database means nothing was ever made.
  if (!existsSync(path.join(dataDir, DATABASE_FILE_NAME))) {
    return printResult({ table: '', items: [] }, output, resource, namespace, io);
  }
  let store: Store;
  try {
    store = openStore(dataDir);
  } catch (error) {
    if (isBerthError(error) && error.code === 'STORE_LOCKED') {
      writeLine(io.stderr, `berth get: ${error.message}`);
      writeLine(
        io.stderr,
        'hint: a running operator owns its store; asking it over --server comes in a later release',
      );
      return EXIT.error;
    }
    throw error;
  }
  try {
    const result = collect(store, resource, namespace, now, output === 'wide');
    return printResult(result, output, resource, namespace, io);
  } finally {
    store.close();
  }
}

interface Collected {
  readonly table: string;
  readonly items: readonly unknown[];
}

function printResult(
  result: Collected,
  output: OutputFormat,
  resource: Resource,
  namespace: string,
  io: CliIo,
): number {
  if (output === 'json') {
    writeLine(io.stdout, JSON.stringify(toV1List(result.items), null, 2));
  } else if (output === 'yaml') {
    io.stdout.write(stringify(toV1List(result.items)));
  } else if (result.items.length === 0) {
    writeLine(
      io.stderr,
      resource === 'nodes' ? 'No resources found' : `No resources found in ${namespace} namespace.`,
    );
  } else {
    writeLine(io.stdout, result.table);
  }
  return EXIT.ok;
}

/** Every applied object of this kind in the namespace, over all sources, by name. */
function appliedObjects(
  store: Store,
  kind: 'ReplicationController' | 'Service',
  namespace: string,
): { object: unknown; appliedAt: string }[] {
  return (
    store
      .inventoryApps()
      .flatMap((app) => store.inventory(app))
      .filter((entry) => entry.ref.kind === kind && entry.ref.namespace === namespace)
      // An object named by two sources' inventories is still one object: the first one shows.
      .filter((entry, index, all) => all.findIndex((other) => other.key === entry.key) === index)
      .map((entry) => ({ object: entry.applied, appliedAt: entry.appliedAt }))
      .sort((a, b) => compareNames(nameOf(a.object), nameOf(b.object)))
  );
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The assigned pods of the namespace, by name, with their node (none while still unbound). */
function assignedPods(store: Store, namespace: string): { pod: unknown; node?: string }[] {
  return (
    store
      .assignments()
      .filter((assignment) => namespaceOf(assignment.pod) === namespace)
      // The engine stores a pod not scheduled yet under an empty node name (the column is NOT NULL).
      .map((assignment) =>
        assignment.node === ''
          ? { pod: assignment.pod }
          : { pod: assignment.pod, node: assignment.node },
      )
      .sort((a, b) => compareNames(nameOf(a.pod), nameOf(b.pod)))
  );
}

/**
 * The RC's pods: those naming it as their controller, else (no owner reference written) those
 * matching its selector.
 */
function ownedBy(rc: unknown, pods: readonly unknown[]): unknown[] {
  const rcName = nameOf(rc);
  const selector = selectorOf(rc);
  return pods.filter((pod) => {
    const owner = controllerOf(pod);
    if (owner !== undefined) return owner.kind === 'ReplicationController' && owner.name === rcName;
    const labels = labelsOf(pod);
    const pairs = Object.entries(selector);
    return pairs.length > 0 && pairs.every(([key, value]) => labels[key] === value);
  });
}

function selectorOf(rc: unknown): Record<string, string> {
  const spec = (rc as { spec?: { selector?: unknown } } | null)?.spec;
  const selector = spec?.selector;
  if (typeof selector !== 'object' || selector === null) return {};
  return Object.fromEntries(
    Object.entries(selector).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

function controllerOf(pod: unknown): { kind: string; name: string } | undefined {
  const refs = (pod as { metadata?: { ownerReferences?: unknown } } | null)?.metadata
    ?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  for (const ref of refs) {
    const { kind, name, controller } = (ref ?? {}) as Record<string, unknown>;
    if (controller === true && typeof kind === 'string' && typeof name === 'string') {
      return { kind, name };
    }
  }
  return undefined;
}

function collect(
  store: Store,
  resource: Resource,
  namespace: string,
  now: Date,
  wide: boolean,
): Collected {
  switch (resource) {
    case 'pods': {
      const rows = assignedPods(store, namespace);
      return { table: podsTable(rows, now, wide), items: rows.map((row) => row.pod) };
    }
    case 'replicationcontrollers': {
      const pods = assignedPods(store, namespace).map((row) => row.pod);
      const rcs = appliedObjects(store, 'ReplicationController', namespace);
      const rows = rcs.map(({ object, appliedAt }) => ({
        rc: object,
        pods: ownedBy(object, pods),
        appliedAt,
      }));
      return {
        table: replicationControllersTable(rows, now, wide),
        items: rcs.map((rc) => rc.object),
      };
    }
    case 'services': {
      const clusterIPs = new Map(
        store.allocations('clusterIP').map((allocation) => [allocation.owner, allocation.value]),
      );
      const services = appliedObjects(store, 'Service', namespace);
      const rows = services.map(({ object, appliedAt }) => {
        const clusterIP = clusterIPs.get(`Service/${namespace}/${nameOf(object)}`);
        return { service: object, appliedAt, ...(clusterIP === undefined ? {} : { clusterIP }) };
      });
      return { table: servicesTable(rows, now, wide), items: services.map((s) => s.object) };
    }
    case 'nodes': {
      const nodes = store.nodes();
      return {
        table: nodesTable(nodes, now, wide),
        items: nodes.map((node) => nodeObject(node, now)),
      };
    }
  }
}

export { defaultOperatorDataDir };
