import { describe, expect, it } from 'vitest';
import type { NodeView } from '../../operator/engine/decide.js';
import { type EngineSnapshot, emptySnapshot } from '../../operator/engine/state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { SERVICE_ENV_ANNOTATION } from '../../operator/services/types.js';
import { decideOne } from './decide-one.js';

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

const NOW = Date.parse('2026-12-05T12:00:00Z');
/** A deterministic random source (LCG): names and uids repeat run to run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
const random = seeded(7);

function service(name: string, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
${extra}---
`;
}

const RC = `apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox:1
        ports: [{name: http, containerPort: 8080}]
`;

function node(name: string, pods: NodeView['pods'] = []): NodeView {
  return { name, ready: true, labels: {}, capacity: { cpu: 4, memoryBytes: 8 * 2 ** 30 }, pods };
}

/** The node's report: every pod bound to it Running and Ready at 172.17.0.(10 + i). */
function reportsFor(state: EngineSnapshot, name: string): NodeView['pods'] {
  return [...state.pods.values()]
    .filter((stored) => stored.node === name)
    .map((stored, index) => ({
      namespace: stored.pod.metadata.namespace ?? 'default',
      name: stored.pod.metadata.name ?? '',
      uid: stored.pod.metadata.uid ?? '',
      status: {
        phase: 'Running',
        podIP: `172.17.0.${10 + index}`,
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    }));
}

function envOf(pod: Pod | undefined): Record<string, string> {
  const text = pod?.metadata.annotations?.[SERVICE_ENV_ANNOTATION];
  if (text === undefined) return {};
  return Object.fromEntries(
    (JSON.parse(text) as { name: string; value: string }[]).map((v) => [v.name, v.value]),
  );
}

describe('decide: services', () => {
  it('allocates the first free cluster IP, gives new pods the service env, and lists endpoints once ready', () => {
    const objects = load(service('web') + RC);
    const first = decideOne(objects, emptySnapshot(), [node('n1')], NOW, { random });
    expect(first.refused).toBeUndefined();
    expect(first.services).toEqual([
      expect.objectContaining({ name: 'web', clusterIP: '10.96.0.2', endpoints: [] }),
    ]);
    expect(first.next.allocations).toEqual([
      { kind: 'clusterIP', owner: 'Service/default/web', value: '10.96.0.2' },
    ]);
    const pods = [...first.next.pods.values()].map((stored) => stored.pod);
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(envOf(pod)).toMatchObject({
        WEB_SERVICE_HOST: '10.96.0.2',
        WEB_SERVICE_PORT: '80',
        WEB_SERVICE_PORT_HTTP: '80',
        WEB_PORT: 'tcp://10.96.0.2:80',
        WEB_PORT_80_TCP_ADDR: '10.96.0.2',
      });
    }

    // The node reports the pods ready: they become endpoints at their named container port.
    const second = decideOne(objects, first.next, [node('n1', reportsFor(first.next, 'n1'))], NOW, {
      random,
    });
    expect(second.services[0]?.clusterIP).toBe('10.96.0.2');
    expect(second.services[0]?.endpoints.map((e) => `${e.ip}:${e.ports.http}`)).toEqual([
      '172.17.0.10:8080',
      '172.17.0.11:8080',
    ]);
    expect(second.next.allocations).toEqual(first.next.allocations);
  });

  it('gives a pod made before a service no variables of it (as Kubernetes)', () => {
    const rcOnly = decideOne(load(RC), emptySnapshot(), [node('n1')], NOW, { random });
    const withService = decideOne(load(service('web') + RC), rcOnly.next, [node('n1')], NOW, {
      random,
    });
    expect(withService.services).toHaveLength(1);
    for (const stored of withService.next.pods.values()) expect(envOf(stored.pod)).toEqual({});
  });

  it('honours a written cluster IP and refuses one another service holds, changing nothing', () => {
    const first = decideOne(
      load(service('web', '  clusterIP: 10.96.0.50\n')),
      emptySnapshot(),
      [node('n1')],
      NOW,
      { random },
    );
    expect(first.services[0]?.clusterIP).toBe('10.96.0.50');
    const clash = decideOne(
      load(
        service('web', '  clusterIP: 10.96.0.50\n') + service('db', '  clusterIP: 10.96.0.50\n'),
      ),
      first.next,
      [node('n1')],
      NOW,
      { random },
    );
    expect(clash.refused?.code).toBe('PLAN_ALLOCATION_REFUSED');
    expect(clash.refused?.message).toContain('app.yaml:');
    expect(clash.refused?.message).toContain('service/db: spec.clusterIP');
    expect(clash.next).toBe(first.next);

    const outside = decideOne(
      load(service('web', '  clusterIP: 192.168.1.1\n')),
      emptySnapshot(),
      [node('n1')],
      NOW,
      { random },
    );
    expect(outside.refused?.message).toContain('spec.clusterIP');
  });

  it('allocates node ports, releases everything when the service leaves git', () => {
    const first = decideOne(
      load(service('web', '  type: NodePort\n')),
      emptySnapshot(),
      [node('n1')],
      NOW,
      { random },
    );
    expect(first.services[0]?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, nodePort: 30000 },
    ]);
    const gone = decideOne(load(RC), first.next, [node('n1')], NOW, { random });
    expect(gone.services).toEqual([]);
    expect(gone.next.allocations).toEqual([]);
  });
});
