/**
 * `berth get pods|rc|services|nodes`: reads the operator (a running `berth serve`, else the
 * store in the data dir, never created) and prints kubectl-style tables (or a v1 List as
 * JSON/YAML).
 */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { defaultOperatorDataDir } from '../model/data-dirs.js';
import { BerthError } from '../model/errors.js';
import type { Service } from '../model/generated/types.js';
import type { OperatorReadout } from '../operator/session.js';
import { type ServiceView, toV1Endpoints } from '../services/index.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { OPERATOR_FLAGS, OPERATOR_FLAGS_HELP, readOperator } from './operator-flags.js';
import {
  endpointsTable,
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

export const GET_HELP = `Usage: berth get pods|rc|services|endpoints|nodes [-n NAMESPACE] [-o wide|json|yaml] [--server URL] [--data-dir DIR]

Show what the operator keeps, as kubectl get does.
  pods (po)                      NAME READY STATUS RESTARTS AGE (+ IP NODE with -o wide)
  replicationcontrollers (rc)    NAME DESIRED CURRENT READY AGE
  services (svc)                 NAME TYPE CLUSTER-IP PORT(S) AGE (+ SELECTOR with -o wide)
  endpoints (ep)                 NAME ENDPOINTS AGE: the ready pods behind each service
  nodes (no)                     NAME STATUS AGE CAPACITY

Options:
  -n, --namespace NS    the namespace (@default default); nodes have none
  -o, --output FORMAT   wide, json or yaml (json/yaml print a v1 List)

${OPERATOR_FLAGS_HELP}

Exit status: 0 shown, 2 error (also when the operator cannot be reached, or a berth apply
holds the data dir with no berth serve on it).`;

type Resource = 'pods' | 'replicationcontrollers' | 'services' | 'endpoints' | 'nodes';

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
  endpoints: 'endpoints',
  endpoint: 'endpoints',
  ep: 'endpoints',
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
      ...OPERATOR_FLAGS,
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
      hint: 'use pods, rc, services, endpoints or nodes',
    });
  }
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'wide' && output !== 'json' && output !== 'yaml') {
    throw new BerthError('CLI_USAGE', `unknown output format "${output}"`, {
      hint: 'use -o wide, -o json or -o yaml',
    });
  }
  const namespace = values.namespace;
  const now = (deps.now ?? (() => new Date()))();
  const readout = await readOperator(values, io, now.getTime());
  const result = collect(readout, resource, namespace, now, output === 'wide');
  return printResult(result, output, resource, namespace, io);
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

/** Every applied object of this kind in the namespace, over all apps, by name. */
function appliedObjects(
  readout: OperatorReadout,
  kind: 'ReplicationController' | 'Service',
  namespace: string,
): { object: unknown; appliedAt: string }[] {
  return (
    readout.apps
      .flatMap((app) => app.objects)
      .filter((entry) => entry.ref.kind === kind && entry.ref.namespace === namespace)
      // An object named by two apps' inventories is still one object: the first one shows.
      .filter((entry, index, all) => all.findIndex((other) => other.key === entry.key) === index)
      .map((entry) => ({ object: entry.applied, appliedAt: entry.appliedAt }))
      .sort((a, b) => compareNames(nameOf(a.object), nameOf(b.object)))
  );
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The assigned pods of the namespace, by name, with their node (none while still unbound). */
function assignedPods(
  readout: OperatorReadout,
  namespace: string,
): { pod: unknown; node?: string }[] {
  return (
    readout.assignments
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
  readout: OperatorReadout,
  resource: Resource,
  namespace: string,
  now: Date,
  wide: boolean,
): Collected {
  switch (resource) {
    case 'pods': {
      const rows = assignedPods(readout, namespace);
      return { table: podsTable(rows, now, wide), items: rows.map((row) => row.pod) };
    }
    case 'replicationcontrollers': {
      const pods = assignedPods(readout, namespace).map((row) => row.pod);
      const rcs = appliedObjects(readout, 'ReplicationController', namespace);
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
      const views = viewsByKey(readout);
      const services = appliedObjects(readout, 'Service', namespace).map((entry) => ({
        ...entry,
        object: withAllocated(entry.object, views.get(`${namespace}/${nameOf(entry.object)}`)),
      }));
      const rows = services.map(({ object, appliedAt }) => {
        const clusterIP = views.get(`${namespace}/${nameOf(object)}`)?.clusterIP;
        return { service: object, appliedAt, ...(clusterIP === undefined ? {} : { clusterIP }) };
      });
      return { table: servicesTable(rows, now, wide), items: services.map((s) => s.object) };
    }
    case 'endpoints': {
      const views = viewsByKey(readout);
      const rows = appliedObjects(readout, 'Service', namespace).flatMap(
        ({ object, appliedAt }) => {
          const view = views.get(`${namespace}/${nameOf(object)}`);
          // AGE is the service's, as an Endpoints object is made with its service.
          const created = (object as Service).metadata?.creationTimestamp ?? appliedAt;
          return view === undefined ? [] : [{ view, appliedAt: created }];
        },
      );
      return {
        table: endpointsTable(rows, now),
        items: rows.map(({ view, appliedAt }) => {
          const endpoints = toV1Endpoints(view);
          return {
            ...endpoints,
            metadata: { ...endpoints.metadata, creationTimestamp: appliedAt },
          };
        }),
      };
    }
    case 'nodes': {
      const nodes = readout.nodes;
      return {
        table: nodesTable(nodes, now, wide),
        items: nodes.map((node) => nodeObject(node, now)),
      };
    }
  }
}

/** The services' views by `namespace/name`. */
function viewsByKey(readout: OperatorReadout): Map<string, ServiceView> {
  return new Map((readout.services ?? []).map((view) => [`${view.namespace}/${view.name}`, view]));
}

/**
 * The service as the cluster has it: its allocated cluster IP and node ports in the spec, and
 * for a LoadBalancer a status that says there is no load balancer here, only node ports.
 */
function withAllocated(service: unknown, view: ServiceView | undefined): unknown {
  if (view === undefined || typeof service !== 'object' || service === null) return service;
  const object = service as Service;
  const ports = (object.spec.ports ?? []).map((port, index) => {
    const nodePort = view.ports[index]?.nodePort;
    return nodePort === undefined ? port : { ...port, nodePort };
  });
  const spec = {
    ...object.spec,
    clusterIP: view.clusterIP ?? 'None',
    ...(ports.length === 0 ? {} : { ports }),
  };
  const status =
    view.type === 'LoadBalancer'
      ? {
          loadBalancer: {},
          conditions: [
            {
              type: 'LoadBalancerAsNodePort',
              status: 'True',
              reason: 'NoLoadBalancer',
              message:
                'berth has no external load balancer: the service answers on its node ports on every node, 127.0.0.1 included',
            },
          ],
        }
      : { loadBalancer: {} };
  return { ...object, spec, status };
}

export { defaultOperatorDataDir };
