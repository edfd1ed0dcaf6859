import { describe, expect, it } from 'vitest';
import {
  expandVariables,
  type PodEnvContext,
  resolveCommandLine,
  resolveContainerEnv,
  SERVICE_ENV_ANNOTATION,
  serviceEnvOf,
} from '../../operator/agent/pod-env.js';
import type { Container, Pod } from '../../operator/model/generated/types.js';

const context: PodEnvContext = { podIP: '172.17.0.9', hostIP: '10.0.0.1', nodeName: 'node-a' };

function podWith(container: Partial<Container>): { pod: Pod; container: Container } {
  const full: Container = { name: 'app', image: 'busybox', ...container };
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      uid: 'uid-123',
      labels: { app: 'web' },
      annotations: { note: 'hi' },
    },
    spec: {
      containers: [
        full,
        { name: 'side', image: 'busybox', resources: { limits: { memory: '64Mi' } } },
      ],
    },
  };
  return { pod, container: full };
}

function envOf(container: Partial<Container>, extra?: Record<string, string>) {
  const { pod, container: full } = podWith(container);
  return resolveContainerEnv(pod, full, context, extra);
}

describe('expandVariables', () => {
  const lookup = (name: string) => ({ A: 'one', B: 'two' })[name];

  it.each([
    ['$(A)', 'one'],
    ['x-$(A)-$(B)-y', 'x-one-two-y'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(A)', '$(A)'],
    ['$$', '$'],
    ['cost $5', 'cost $5'],
    ['end$', 'end$'],
    ['$(A', '$(A'],
    ['$()', '$()'],
    ['$$$(A)', '$one'],
  ])('%s → %s', (input, expected) => {
    expect(expandVariables(input, lookup)).toBe(expected);
  });
});

describe('resolveContainerEnv', () => {
  it('puts extra env first and lets the container override it', () => {
    const result = envOf(
      {
        env: [
          { name: 'B', value: 'mine' },
          { name: 'C', value: '$(A)-$(B)' },
        ],
      },
      {
        A: 'svc',
        B: 'svc-b',
      },
    );
    expect(result).toEqual({
      ok: true,
      env: [
        ['A', 'svc'],
        ['B', 'mine'],
        ['C', 'svc-mine'],
      ],
    });
  });

  it('expands only variables defined earlier', () => {
    const result = envOf({
      env: [
        { name: 'FIRST', value: '$(SECOND)' },
        { name: 'SECOND', value: 'two' },
      ],
    });
    expect(result.ok && result.env).toEqual([
      ['FIRST', '$(SECOND)'],
      ['SECOND', 'two'],
    ]);
  });

  it('resolves fieldRef from the pod and where it runs', () => {
    const paths = [
      'metadata.name',
      'metadata.namespace',
      'metadata.uid',
      'status.podIP',
      'status.hostIP',
      'spec.nodeName',
      "metadata.labels['app']",
      "metadata.annotations['note']",
    ];
    const result = envOf({
      env: paths.map((fieldPath, index) => ({
        name: `V${index}`,
        valueFrom: { fieldRef: { fieldPath } },
      })),
    });
    expect(result.ok && result.env.map(([, value]) => value)).toEqual([
      'web-1',
      'shop',
      'uid-123',
      '172.17.0.9',
      '10.0.0.1',
      'node-a',
      'web',
      'hi',
    ]);
  });

  it('expands $(VAR) of a fieldRef variable in later values', () => {
    const result = envOf({
      env: [
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'URL', value: 'http://$(IP):80' },
      ],
    });
    expect(result.ok && result.env[1]).toEqual(['URL', 'http://172.17.0.9:80']);
  });

  it('resolves resourceFieldRef of this and another container', () => {
    const result = envOf({
      resources: { limits: { cpu: '1500m', memory: '128Mi' } },
      env: [
        { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        {
          name: 'MEM',
          valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } },
        },
        {
          name: 'SIDE',
          valueFrom: {
            resourceFieldRef: { resource: 'limits.memory', containerName: 'side', divisor: '1Mi' },
          },
        },
      ],
    });
    expect(result.ok && result.env).toEqual([
      ['CPU', '2'],
      ['MEM', '128'],
      ['SIDE', '64'],
    ]);
  });

  it.each([
    [{ fieldRef: { fieldPath: 'spec.nope' } }, 'spec.nope'],
    [{ secretKeyRef: { name: 's', key: 'k' } }, 'no Secret objects'],
    [{ configMapKeyRef: { name: 'c', key: 'k' } }, 'no ConfigMap objects'],
    [{ resourceFieldRef: { resource: 'limits.cpu' } }, 'capacity is unknown'],
    [{}, 'names no source'],
  ])('refuses %j with a message', (valueFrom, fragment) => {
    const result = envOf({ env: [{ name: 'X', valueFrom }] });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(fragment);
    expect(!result.ok && result.message).toContain('env X of container app');
  });
});

describe('references to objects berth does not have', () => {
  it('leaves out variables with an optional configMap or secret reference', () => {
    const result = envOf({
      env: [
        { name: 'A', value: 'a' },
        { name: 'OPT', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } },
        { name: 'OPT2', valueFrom: { configMapKeyRef: { name: 'c', key: 'k', optional: true } } },
      ],
      envFrom: [{ configMapRef: { name: 'c', optional: true } }],
    });
    expect(result).toEqual({ ok: true, env: [['A', 'a']] });
  });

  it('refuses envFrom of a required config map or secret', () => {
    for (const envFrom of [[{ configMapRef: { name: 'c' } }], [{ secretRef: { name: 's' } }]]) {
      const result = envOf({ envFrom });
      expect(result.ok).toBe(false);
      expect(!result.ok && result.message).toMatch(
        /envFrom (configMapRef c|secretRef s) of container app/,
      );
    }
  });
});

describe('resolveCommandLine', () => {
  const env: [string, string][] = [['NAME', 'world']];

  it('command replaces the entrypoint and args the cmd, both expanded', () => {
    const { container } = podWith({
      command: ['/bin/echo', 'hello'],
      args: ['$(NAME)', '$$(NAME)'],
    });
    expect(resolveCommandLine(container, env)).toEqual({
      entrypoint: ['/bin/echo', 'hello'],
      cmd: ['world', '$(NAME)'],
    });
  });

  it('args alone keep the image entrypoint', () => {
    const { container } = podWith({ args: ['x'] });
    expect(resolveCommandLine(container, env)).toEqual({ entrypoint: undefined, cmd: ['x'] });
  });

  it('empty lists count as not given', () => {
    const { container } = podWith({ command: [], args: [] });
    expect(resolveCommandLine(container, env)).toEqual({ entrypoint: undefined, cmd: undefined });
  });
});

describe('service variables from the berth.io/service-env annotation', () => {
  const serviceEnv = JSON.stringify([
    { name: 'WEB_SERVICE_HOST', value: '10.96.0.10' },
    { name: 'WEB_SERVICE_PORT', value: '80' },
    { name: 'MODE', value: 'from-service' },
  ]);

  function annotated(annotation: string, container: Partial<Container>) {
    const { pod, container: full } = podWith(container);
    pod.metadata.annotations = {
      ...pod.metadata.annotations,
      [SERVICE_ENV_ANNOTATION]: annotation,
    };
    return { pod, container: full };
  }

  it('names the annotation berth.io/service-env', () => {
    expect(SERVICE_ENV_ANNOTATION).toBe('berth.io/service-env');
  });

  it('puts the service variables first; the container wins on a shared name and may refer to them', () => {
    const { pod, container } = annotated(serviceEnv, {
      env: [
        { name: 'MODE', value: 'mine' },
        { name: 'WEB_URL', value: 'http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/' },
      ],
    });
    expect(resolveContainerEnv(pod, container, context)).toEqual({
      ok: true,
      env: [
        ['WEB_SERVICE_HOST', '10.96.0.10'],
        ['WEB_SERVICE_PORT', '80'],
        ['MODE', 'mine'],
        ['WEB_URL', 'http://10.96.0.10:80/'],
      ],
    });
  });

  it('puts extra variables after the service ones, before the container env', () => {
    const { pod, container } = annotated(serviceEnv, { env: [{ name: 'X', value: '$(EXTRA)' }] });
    const result = resolveContainerEnv(pod, container, context, {
      EXTRA: 'e',
      MODE: 'extra',
    });
    expect(result.ok && result.env).toEqual([
      ['WEB_SERVICE_HOST', '10.96.0.10'],
      ['WEB_SERVICE_PORT', '80'],
      ['MODE', 'extra'],
      ['EXTRA', 'e'],
      ['X', 'e'],
    ]);
  });

  it.each([
    ['not JSON', '{oops'],
    ['not a list', '{"name":"A","value":"1"}'],
    ['an entry without a value', '[{"name":"A"}]'],
    ['a number value', '[{"name":"A","value":1}]'],
    ['an empty name', '[{"name":"","value":"1"}]'],
    ['null entry', '[null]'],
  ])('ignores a malformed annotation (%s) and says so to the log', (_what, annotation) => {
    const { pod, container } = annotated(annotation, { env: [{ name: 'B', value: 'b' }] });
    const lines: string[] = [];
    const result = resolveContainerEnv(pod, container, context, {}, (line) => lines.push(line));
    expect(result).toEqual({ ok: true, env: [['B', 'b']] });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('shop/web-1');
    expect(lines[0]).toContain(SERVICE_ENV_ANNOTATION);
    // Without a logger nothing is thrown either.
    expect(resolveContainerEnv(pod, container, context)).toEqual(result);
  });

  it('gives nothing for a pod without the annotation, or an empty list', () => {
    const { pod } = podWith({});
    expect(serviceEnvOf(pod)).toEqual([]);
    expect(serviceEnvOf(annotated('[]', {}).pod)).toEqual([]);
  });
});
