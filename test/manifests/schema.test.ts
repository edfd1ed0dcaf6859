import type { ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { dropNullFields, extractObjects } from '../../operator/manifests/schema.js';
import {
  closestName,
  decodeInstancePath,
  schemaErrorsToProblems,
} from '../../operator/manifests/schema-messages.js';
import type { RawDocument } from '../../operator/manifests/types.js';
import { MANIFEST_SCHEMA } from '../../operator/model/generated/schema.js';
import type {
  Container,
  Pod,
  ReplicationController,
  Service,
} from '../../operator/model/generated/types.js';
import {
  type FieldPath,
  formatFieldPath,
  type Origin,
  type ProblemCode,
} from '../../operator/model/problem.js';

/**
 * A RawDocument without the YAML parser: `locate` answers like the parser does (the node at
 * the path, or its nearest existing ancestor) and names the node it found in `file`, so a
 * test can check which node a problem points at: `fake.yaml#spec.containers[0]`.
 */
function fakeDocument(value: unknown): RawDocument {
  const originOf = (path: FieldPath): Origin => ({
    file: `fake.yaml#${formatFieldPath(path)}`,
    line: path.length + 1,
    column: 1,
  });
  return {
    origin: originOf([]),
    value,
    locate(path: FieldPath): Origin {
      const found: (string | number)[] = [];
      let node: unknown = value;
      for (const part of path) {
        if (Array.isArray(node) && typeof part === 'number' && part < node.length) {
          node = node[part];
        } else if (
          typeof node === 'object' &&
          node !== null &&
          !Array.isArray(node) &&
          typeof part === 'string' &&
          Object.hasOwn(node, part)
        ) {
          node = (node as Record<string, unknown>)[part];
        } else {
          break;
        }
        found.push(part);
      }
      return originOf(found);
    },
  };
}

const at = (path: string): string => `fake.yaml#${path}`;

function validPod(name = 'web'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'web', tier: 'frontend' } },
    spec: {
      containers: [
        {
          name: 'nginx',
          image: 'nginx:1.25',
          ports: [{ containerPort: 80, name: 'http' }],
          env: [{ name: 'MODE', value: 'prod' }],
          resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: 0.25 } },
          livenessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 10 },
          readinessProbe: { tcpSocket: { port: 80 } },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [
        { name: 'data', emptyDir: { medium: 'Memory' } },
        { name: 'host', hostPath: { path: '/var/log', type: 'Directory' } },
        { name: 'repo', gitRepo: { repository: 'https://example.com/r.git', revision: 'main' } },
        {
          name: 'creds',
          secret: { secretName: 's', items: [{ key: 'k', path: 'p', mode: 0o400 }] },
        },
      ],
      restartPolicy: 'Always',
      nodeSelector: { disk: 'ssd' },
    },
  };
}

function validController(): ReplicationController {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name: 'frontend' },
    spec: {
      replicas: 3,
      selector: { app: 'web' },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'php', image: 'php:8' }] },
      },
    },
  };
}

function validService(): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'frontend' },
    spec: {
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
        { name: 'alt', port: 8080, targetPort: 8080, protocol: 'TCP' },
      ],
      sessionAffinity: 'None',
    },
  };
}

/** The value with `patch` applied at a dotted path (numbers index lists). */
function withField(value: unknown, path: FieldPath, replacement: unknown): unknown {
  const copy: unknown = structuredClone(value);
  let node = copy as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  const last = path.at(-1);
  if (last === undefined) return replacement;
  if (replacement === undefined) delete node[last];
  else node[last] = replacement;
  return copy;
}

function extract(value: unknown) {
  return extractObjects(fakeDocument(value));
}

describe('extractObjects: valid objects', () => {
  it.each([
    ['Pod', validPod()],
    ['ReplicationController', validController()],
    ['Service', validService()],
  ])('accepts a valid %s and returns it typed, with its origin and locate', (kind, value) => {
    const result = extract(value);
    expect(result.problems).toEqual([]);
    expect(result.objects).toHaveLength(1);
    const [object] = result.objects;
    expect(object?.kind).toBe(kind);
    expect(object?.object).toEqual(value);
    expect(object?.origin.file).toBe(at(''));
    expect(object?.locate(['metadata', 'name']).file).toBe(at('metadata.name'));
  });

  it('accepts the fields a real API server accepts beyond the ones berth uses', () => {
    const pod = withField(validPod(), ['spec'], {
      ...validPod().spec,
      activeDeadlineSeconds: 600,
      serviceAccountName: 'default',
      hostNetwork: false,
      dnsPolicy: 'ClusterFirst',
      securityContext: { runAsUser: 1000, fsGroup: 2000, sysctls: [{ name: 'a', value: 'b' }] },
      affinity: { nodeAffinity: { anything: ['goes', 'here'] } },
      tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
      terminationGracePeriodSeconds: 30,
      initContainers: [{ name: 'init', image: 'busybox', command: ['true'] }],
    });
    const withContainerExtras = withField(pod, ['spec', 'containers', 0], {
      ...(validPod().spec.containers[0] as Container),
      workingDir: '/srv',
      stdin: true,
      tty: true,
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'FallbackToLogsOnError',
      imagePullPolicy: 'IfNotPresent',
      securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN'] } },
      lifecycle: {
        preStop: { exec: { command: ['sleep', '1'] } },
        postStart: { sleep: { seconds: 1 } },
      },
    } satisfies Container);
    const withMeta = withField(withContainerExtras, ['metadata'], {
      name: 'web',
      generateName: 'web-',
      namespace: 'prod',
      uid: '0d7c1a3e-1111-2222-3333-444455556666',
      resourceVersion: '12345',
      creationTimestamp: '2015-06-01T12:00:00Z',
      annotations: { 'berth.io/note': 'x' },
    });
    expect(extract(withMeta).problems).toEqual([]);

    const service = withField(validService(), ['spec'], {
      ...validService().spec,
      clusterIP: '10.0.0.10',
      externalIPs: ['192.0.2.1'],
      loadBalancerIP: '192.0.2.2',
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    });
    expect(extract(service).problems).toEqual([]);
  });

  it('accepts the status objects a manifest may carry', () => {
    const pod = {
      ...validPod(),
      status: {
        phase: 'Running',
        podIP: '10.1.0.4',
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    };
    const rc = {
      ...validController(),
      status: { replicas: 3, readyReplicas: 2, observedGeneration: 4 },
    };
    const service = {
      ...validService(),
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.9' }] } },
    };
    for (const value of [pod, rc, service]) expect(extract(value).problems).toEqual([]);
  });

  it('reads null fields as absent, as the API server does (creationTimestamp: null, status: {})', () => {
    const pod = {
      ...validPod(),
      metadata: { name: 'web', creationTimestamp: null },
      status: {},
    };
    const result = extract(pod);
    expect(result.problems).toEqual([]);
    expect(result.objects[0]?.object.metadata).toEqual({ name: 'web' });
  });

  it('accepts IntOrString ports as numbers or names and quantities as strings or numbers', () => {
    for (const port of [8080, 'http']) {
      const value = withField(validService(), ['spec', 'ports', 0, 'targetPort'], port);
      expect(extract(value).problems).toEqual([]);
    }
    for (const quantity of ['500m', '1Gi', 2, 0.5]) {
      const value = withField(
        validPod(),
        ['spec', 'containers', 0, 'resources', 'limits', 'cpu'],
        quantity,
      );
      expect(extract(value).problems).toEqual([]);
    }
  });
});

describe('extractObjects: document shape', () => {
  it.each([
    ['a list', [1, 2]],
    ['a string', 'hello'],
    ['a number', 42],
  ])('reports %s as object.not-a-mapping at the document', (_, value) => {
    const result = extract(value);
    expect(result.objects).toEqual([]);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({
      code: 'object.not-a-mapping',
      origin: { file: at('') },
    });
    expect(result.problems[0]?.message).toMatch(
      /must be a mapping with apiVersion, kind and metadata/,
    );
  });

  it('reports a missing kind as object.missing-kind naming the supported kinds', () => {
    const result = extract(withField(validPod(), ['kind'], undefined));
    expect(result.problems).toEqual([
      {
        code: 'object.missing-kind',
        origin: { file: at(''), line: 1, column: 1 },
        field: 'kind',
        message:
          'required field "kind" is missing: say what this is (Pod, ReplicationController, Service or List)',
      },
    ]);
  });

  it('reports a kind that is not a string as a type error at the kind', () => {
    const result = extract(withField(validPod(), ['kind'], 5));
    expect(result.problems).toMatchObject([
      { code: 'schema.type', field: 'kind', origin: { file: at('kind') } },
    ]);
  });

  it('reports an unknown kind listing the supported ones', () => {
    const result = extract({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } });
    expect(result.objects).toEqual([]);
    expect(result.problems).toEqual([
      {
        code: 'object.unknown-kind',
        origin: { file: at('kind'), line: 2, column: 1 },
        field: 'kind',
        message:
          'unknown kind "Deployment": berth supports Pod, ReplicationController, Service or List',
      },
    ]);
  });

  it('suggests the supported kind a miscased kind meant', () => {
    const result = extract(withField(validPod(), ['kind'], 'pod'));
    expect(result.problems[0]?.message).toBe(
      'unknown kind "pod" (did you mean "Pod"?): berth supports Pod, ReplicationController, Service or List',
    );
  });

  it.each([
    ['another version', 'apps/v1', at('apiVersion'), '(got string "apps/v1")'],
    ['a missing one', undefined, at(''), '(apiVersion is missing)'],
  ])('reports %s of apiVersion as object.api-version', (_, apiVersion, origin, got) => {
    const result = extract(withField(validPod(), ['apiVersion'], apiVersion));
    expect(result.objects).toEqual([]);
    expect(result.problems).toEqual([
      {
        code: 'object.api-version',
        origin: expect.objectContaining({ file: origin }),
        object: 'pod/web',
        field: 'apiVersion',
        message: `apiVersion must be v1 for Pod; berth supports the core v1 API ${got}`,
      },
    ]);
  });
});

interface SchemaCase {
  readonly name: string;
  readonly value: unknown;
  readonly code: ProblemCode;
  readonly field: string;
  readonly origin: string;
  readonly message: string;
}

const schemaCases: readonly SchemaCase[] = [
  {
    name: 'a number where a string is expected (env value)',
    value: withField(validPod(), ['spec', 'containers', 0, 'env', 0, 'value'], 8080),
    code: 'schema.type',
    field: 'spec.containers[0].env[0].value',
    origin: 'spec.containers[0].env[0].value',
    message: 'must be a string, got number 8080: quote it ("8080")',
  },
  {
    name: 'a boolean where a string is expected (label value)',
    value: withField(validPod(), ['metadata', 'labels', 'tier'], true),
    code: 'schema.type',
    field: 'metadata.labels.tier',
    origin: 'metadata.labels.tier',
    message:
      'must be a string, got boolean true: quote it ("true"); unquoted yes/no/on/off/true/false are booleans in YAML',
  },
  {
    name: 'a quoted number where an integer is expected',
    value: withField(validPod(), ['spec', 'containers', 0, 'ports', 0, 'containerPort'], '80'),
    code: 'schema.type',
    field: 'spec.containers[0].ports[0].containerPort',
    origin: 'spec.containers[0].ports[0].containerPort',
    message: 'must be an integer, got string "80": write it without quotes (80)',
  },
  {
    name: 'a fraction where an integer is expected',
    value: withField(validController(), ['spec', 'replicas'], 1.5),
    code: 'schema.type',
    field: 'spec.replicas',
    origin: 'spec.replicas',
    message: 'must be an integer, got number 1.5',
  },
  {
    name: 'a mapping where a list is expected',
    value: withField(validPod(), ['spec', 'containers'], { name: 'x', image: 'y' }),
    code: 'schema.type',
    field: 'spec.containers',
    origin: 'spec.containers',
    message: 'must be a list, got a mapping: write each entry on its own line starting with "- "',
  },
  {
    name: 'a boolean where an IntOrString is expected',
    value: withField(validService(), ['spec', 'ports', 0, 'targetPort'], true),
    code: 'schema.type',
    field: 'spec.ports[0].targetPort',
    origin: 'spec.ports[0].targetPort',
    message:
      'must be an integer or a string, got boolean true: unquoted yes/no/on/off/true/false are booleans in YAML; quote it if you meant the word',
  },
  {
    name: 'a list where a quantity is expected',
    value: withField(
      validPod(),
      ['spec', 'containers', 0, 'resources', 'limits', 'memory'],
      ['1Gi'],
    ),
    code: 'schema.type',
    field: 'spec.containers[0].resources.limits.memory',
    origin: 'spec.containers[0].resources.limits.memory',
    message: 'must be a string or a number, got a list',
  },
  {
    name: 'a missing required field (container image), located at its parent',
    value: withField(validPod(), ['spec', 'containers', 0, 'image'], undefined),
    code: 'schema.required',
    field: 'spec.containers[0].image',
    origin: 'spec.containers[0]',
    message: 'required field "image" is missing',
  },
  {
    name: 'a missing containerPort',
    value: withField(validPod(), ['spec', 'containers', 0, 'ports', 0], { name: 'http' }),
    code: 'schema.required',
    field: 'spec.containers[0].ports[0].containerPort',
    origin: 'spec.containers[0].ports[0]',
    message: 'required field "containerPort" is missing',
  },
  {
    name: 'a missing RC template',
    value: withField(validController(), ['spec', 'template'], undefined),
    code: 'schema.required',
    field: 'spec.template',
    origin: 'spec',
    message: 'required field "template" is missing',
  },
  {
    name: 'an unknown field close to a known one',
    value: withField(validPod(), ['spec', 'contaners'], []),
    code: 'schema.unknown-field',
    field: 'spec.contaners',
    origin: 'spec.contaners',
    message: 'unknown field "contaners" (did you mean "containers"?)',
  },
  {
    name: 'an unknown metadata field',
    value: withField(validPod(), ['metadata', 'lables'], { a: 'b' }),
    code: 'schema.unknown-field',
    field: 'metadata.lables',
    origin: 'metadata.lables',
    message: 'unknown field "lables" (did you mean "labels"?)',
  },
  {
    name: 'a miscased field',
    value: withField(validPod(), ['spec', 'containers', 0, 'ports', 0, 'ContainerPort'], 81),
    code: 'schema.unknown-field',
    field: 'spec.containers[0].ports[0].ContainerPort',
    origin: 'spec.containers[0].ports[0].ContainerPort',
    message: 'unknown field "ContainerPort" (did you mean "containerPort"?)',
  },
  {
    name: 'an unknown field like no known one',
    value: withField(validService(), ['spec', 'loadBalancerFlavour'], 'big'),
    code: 'schema.unknown-field',
    field: 'spec.loadBalancerFlavour',
    origin: 'spec.loadBalancerFlavour',
    message: 'unknown field "loadBalancerFlavour"',
  },
  {
    name: 'an unknown top-level field',
    value: withField(validService(), ['data'], {}),
    code: 'schema.unknown-field',
    field: 'data',
    origin: 'data',
    message: 'unknown field "data"',
  },
  {
    name: 'a value outside an enum (restartPolicy)',
    value: withField(validPod(), ['spec', 'restartPolicy'], 'Sometimes'),
    code: 'schema.enum',
    field: 'spec.restartPolicy',
    origin: 'spec.restartPolicy',
    message: 'must be one of Always, OnFailure, Never, not "Sometimes"',
  },
  {
    name: 'a miscased enum value',
    value: withField(validPod(), ['spec', 'containers', 0, 'imagePullPolicy'], 'ifnotpresent'),
    code: 'schema.enum',
    field: 'spec.containers[0].imagePullPolicy',
    origin: 'spec.containers[0].imagePullPolicy',
    message:
      'must be one of Always, Never, IfNotPresent, not "ifnotpresent" (did you mean "IfNotPresent"?)',
  },
  {
    name: 'a service type outside the enum',
    value: withField(validService(), ['spec', 'type'], 'Ingress'),
    code: 'schema.enum',
    field: 'spec.type',
    origin: 'spec.type',
    message: 'must be one of ClusterIP, NodePort, LoadBalancer, ExternalName, not "Ingress"',
  },
  {
    name: 'a hostPath type outside the enum, showing the empty value',
    value: withField(validPod(), ['spec', 'volumes', 1, 'hostPath', 'type'], 'Dir'),
    code: 'schema.enum',
    field: 'spec.volumes[1].hostPath.type',
    origin: 'spec.volumes[1].hostPath.type',
    message:
      'must be one of "" (empty), DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice, not "Dir"',
  },
  {
    name: 'an integer beyond 32 bits',
    value: withField(validController(), ['spec', 'replicas'], 4_294_967_296),
    code: 'schema.range',
    field: 'spec.replicas',
    origin: 'spec.replicas',
    message: 'must be a 32-bit integer (-2147483648 to 2147483647), got number 4294967296',
  },
  {
    name: 'a timestamp that is not RFC 3339',
    value: withField(validPod(), ['metadata', 'creationTimestamp'], 'yesterday'),
    code: 'schema.format',
    field: 'metadata.creationTimestamp',
    origin: 'metadata.creationTimestamp',
    message: 'must be an RFC 3339 date-time such as "2015-06-01T12:00:00Z", got string "yesterday"',
  },
];

describe('extractObjects: schema problems', () => {
  it.each(schemaCases)('reports $name', (testCase) => {
    const result = extract(testCase.value);
    expect(result.objects).toEqual([]);
    expect(result.problems).toHaveLength(1);
    const [problem] = result.problems;
    expect(problem?.code).toBe(testCase.code);
    expect(problem?.field).toBe(testCase.field);
    expect(problem?.origin.file).toBe(at(testCase.origin));
    expect(problem?.message).toBe(testCase.message);
    expect(problem?.object).toMatch(/^(pod|replicationcontroller|service)\//);
  });

  it('names the object kubectl-style in each problem', () => {
    const result = extract(withField(validController(), ['spec', 'replicas'], 'three'));
    expect(result.problems[0]?.object).toBe('replicationcontroller/frontend');
  });

  it('collects every problem of a document, one per node', () => {
    let value = withField(validPod(), ['spec', 'contaners'], []);
    value = withField(value, ['spec', 'containers', 0, 'image'], undefined);
    value = withField(value, ['spec', 'containers', 0, 'env', 0, 'value'], 1);
    value = withField(value, ['spec', 'restartPolicy'], 'never');
    value = withField(value, ['metadata', 'labels', 'app'], 2);
    const result = extract(value);
    expect(result.objects).toEqual([]);
    expect(result.problems.map((p) => p.field).sort()).toEqual([
      'metadata.labels.app',
      'spec.containers[0].env[0].value',
      'spec.containers[0].image',
      'spec.contaners',
      'spec.restartPolicy',
    ]);
  });

  it('reports a spec of the wrong type once, without cascading into its fields', () => {
    const result = extract(withField(validPod(), ['spec'], 'containers'));
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ code: 'schema.type', field: 'spec' });
  });

  it('reports an object without a name as <unnamed>', () => {
    const result = extract(withField(validService(), ['metadata'], { labels: { a: 1 } }));
    expect(result.problems[0]?.object).toBe('service/<unnamed>');
  });
});

describe('extractObjects: kind List', () => {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [validService(), validController(), validPod('db')],
  };

  it('returns each item as its own object, located inside the list', () => {
    const result = extract(list);
    expect(result.problems).toEqual([]);
    expect(result.objects.map((o) => o.kind)).toEqual(['Service', 'ReplicationController', 'Pod']);
    const pod = result.objects[2];
    expect(pod?.origin.file).toBe(at('items[2]'));
    expect(pod?.locate(['spec', 'containers', 0, 'image']).file).toBe(
      at('items[2].spec.containers[0].image'),
    );
  });

  it('reports problems of an item at the item, relative to the object it names', () => {
    const broken = withField(list, ['items', 2, 'spec', 'containers', 0, 'image'], undefined);
    const result = extract(broken);
    expect(result.objects.map((o) => o.kind)).toEqual(['Service', 'ReplicationController']);
    expect(result.problems).toEqual([
      {
        code: 'schema.required',
        origin: expect.objectContaining({ file: at('items[2].spec.containers[0]') }),
        object: 'pod/db',
        field: 'spec.containers[0].image',
        message: 'required field "image" is missing',
      },
    ]);
  });

  it('reports an item of an unknown kind with its path in the document', () => {
    const result = extract(
      withField(list, ['items', 1], { apiVersion: 'apps/v1', kind: 'Deployment' }),
    );
    expect(result.objects).toHaveLength(2);
    expect(result.problems).toMatchObject([
      {
        code: 'object.unknown-kind',
        field: 'items[1].kind',
        origin: { file: at('items[1].kind') },
      },
    ]);
  });

  it('reports problems of the list itself and still reads its items', () => {
    const result = extract({
      ...list,
      metadata: { resourceVersion: '1', bogus: true },
      items: [validPod(), 'text'],
    });
    expect(result.objects).toHaveLength(1);
    expect(result.problems).toMatchObject([
      { code: 'schema.unknown-field', field: 'metadata.bogus' },
      {
        code: 'schema.type',
        field: 'items[1]',
        message: 'must be a mapping (key: value), got string "text"',
      },
    ]);
    expect(result.problems.every((p) => p.object === undefined)).toBe(true);
  });

  it('checks the apiVersion of the list and of its items', () => {
    const wrongList = extract({ ...list, apiVersion: 'v2' });
    expect(wrongList.problems).toMatchObject([{ code: 'object.api-version', field: 'apiVersion' }]);
    expect(wrongList.objects).toEqual([]);
    const wrongItem = extract(withField(list, ['items', 0, 'apiVersion'], 'v2'));
    expect(wrongItem.problems).toMatchObject([
      {
        code: 'object.api-version',
        object: 'service/frontend',
        field: 'apiVersion',
        origin: { file: at('items[0].apiVersion') },
      },
    ]);
  });

  it('requires items', () => {
    const result = extract({ apiVersion: 'v1', kind: 'List' });
    expect(result.problems).toMatchObject([
      { code: 'schema.required', field: 'items', message: 'required field "items" is missing' },
    ]);
  });
});

describe('schema messages', () => {
  it('suggests the closest name within a small edit distance', () => {
    const fields = ['containers', 'volumes', 'nodeName', 'nodeSelector', 'restartPolicy'];
    expect(closestName('contaners', fields)).toBe('containers');
    expect(closestName('cotnainers', fields)).toBe('containers');
    expect(closestName('NodeName', fields)).toBe('nodeName');
    expect(closestName('volume', fields)).toBe('volumes');
    expect(closestName('replicas', fields)).toBeUndefined();
    expect(closestName('ab', ['a', 'abc'])).toBeUndefined();
  });

  it('decodes JSON pointers into field paths, numbers only for list indexes', () => {
    const data = {
      spec: { containers: [{ name: 'a' }] },
      metadata: { annotations: { 'a/b': 'x', '0': 'y' } },
    };
    expect(decodeInstancePath('/spec/containers/0/name', data)).toEqual([
      'spec',
      'containers',
      0,
      'name',
    ]);
    expect(decodeInstancePath('/metadata/annotations/a~1b', data)).toEqual([
      'metadata',
      'annotations',
      'a/b',
    ]);
    expect(decodeInstancePath('/metadata/annotations/0', data)).toEqual([
      'metadata',
      'annotations',
      '0',
    ]);
    expect(decodeInstancePath('', data)).toEqual([]);
  });

  it('collapses anyOf alternatives into one message per node', () => {
    const errors: ErrorObject[] = [
      {
        keyword: 'type',
        instancePath: '/port',
        schemaPath: '#/properties/port/anyOf/0/type',
        params: { type: 'integer' },
        data: true,
      },
      {
        keyword: 'type',
        instancePath: '/port',
        schemaPath: '#/properties/port/anyOf/1/type',
        params: { type: 'string' },
        data: true,
      },
      {
        keyword: 'anyOf',
        instancePath: '/port',
        schemaPath: '#/properties/port/anyOf',
        params: {},
        data: true,
      },
    ];
    const problems = schemaErrorsToProblems(
      errors,
      { port: true },
      {
        locate: (path) => ({ file: formatFieldPath(path), line: 1, column: 1 }),
        object: 'service/x',
        fieldPrefix: [],
      },
    );
    expect(problems).toEqual([
      {
        code: 'schema.type',
        origin: { file: 'port', line: 1, column: 1 },
        object: 'service/x',
        field: 'port',
        message: expect.stringMatching(/^must be an integer or a string, got boolean true: /),
      },
    ]);
  });

  it('drops null fields without copying values that have none', () => {
    const clean = { a: [1, { b: 'c' }], d: { e: 'f' } };
    expect(dropNullFields(clean)).toBe(clean);
    const dirty = { a: [null, { b: null, c: 1 }], d: null };
    expect(dropNullFields(dirty)).toEqual({ a: [null, { c: 1 }] });
    expect(dirty).toEqual({ a: [null, { b: null, c: 1 }], d: null });
  });
});

describe('schema bundle', () => {
  it('defines every type the rest of berth imports, each titled with its name', () => {
    const names = [
      'Pod',
      'ReplicationController',
      'Service',
      'List',
      'ObjectMeta',
      'PodSpec',
      'PodTemplateSpec',
      'ReplicationControllerSpec',
      'Container',
      'ContainerPort',
      'EnvVar',
      'EnvVarSource',
      'ObjectFieldSelector',
      'ResourceRequirements',
      'Volume',
      'EmptyDirVolumeSource',
      'HostPathVolumeSource',
      'GitRepoVolumeSource',
      'SecretVolumeSource',
      'KeyToPath',
      'VolumeMount',
      'Probe',
      'ExecAction',
      'HTTPGetAction',
      'HTTPHeader',
      'TCPSocketAction',
      'ServicePort',
      'ServiceSpec',
      'PodStatus',
      'ReplicationControllerStatus',
      'ServiceStatus',
    ];
    for (const name of names) {
      expect(MANIFEST_SCHEMA.definitions[name], name).toMatchObject({ title: name });
    }
  });

  it('validates 10,000 objects well under a second', () => {
    const documents = Array.from({ length: 10_000 }, (_, i) => fakeDocument(validPod(`web-${i}`)));
    extract(validPod()); // compile outside the measurement, as a running process would have
    const started = performance.now();
    let count = 0;
    for (const doc of documents) count += extractObjects(doc).objects.length;
    const elapsed = performance.now() - started;
    expect(count).toBe(10_000);
    // Typically ~100 ms; the bound leaves room for a loaded test machine.
    expect(elapsed).toBeLessThan(1_000);
  });
});
