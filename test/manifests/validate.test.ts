import { describe, expect, it } from 'vitest';
import { applyDefaults } from '../../operator/manifests/defaults.js';
import { isIp, validateAcross, validateObject } from '../../operator/manifests/validate.js';
import type { Pod, ReplicationController, Service } from '../../operator/model/generated/types.js';
import type { Problem, ProblemCode } from '../../operator/model/problem.js';
import {
  basePod,
  baseRc,
  baseService,
  deepFreeze,
  podObject,
  rcObject,
  serviceObject,
} from './validate-objects.js';

type Case<T> = readonly [
  description: string,
  change: (object: T) => void,
  code: ProblemCode,
  field: string,
  message: string,
];

function summary(problems: readonly Problem[]): string[] {
  return problems.map((p) => `${p.code} ${p.field}: ${p.message}`);
}

function podProblems(change: (pod: Pod) => void): Problem[] {
  const pod = basePod();
  change(pod);
  return validateObject(podObject(pod));
}

function expectOnly(
  problems: readonly Problem[],
  code: ProblemCode,
  field: string,
  message: string,
) {
  expect(summary(problems)).toHaveLength(1);
  const [problem] = problems;
  expect(problem?.code).toBe(code);
  expect(problem?.field).toBe(field);
  expect(problem?.message).toContain(message);
}

const c0 = (pod: Pod) => pod.spec.containers[0]!;

describe('validateObject: valid objects', () => {
  it('accepts the base pod, controller and service', () => {
    expect(summary(validateObject(podObject(basePod())))).toEqual([]);
    expect(summary(validateObject(rcObject(baseRc())))).toEqual([]);
    expect(summary(validateObject(serviceObject(baseService())))).toEqual([]);
  });

  it('accepts a pod that uses most features', () => {
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'redis.master-0',
        namespace: 'shop',
        labels: { app: 'redis', 'example.com/tier': 'backend', empty: '' },
        annotations: { 'berth.io/note': 'anything: goes, even "quotes"', 'Example.COM/Key': 'x' },
      },
      spec: {
        restartPolicy: 'OnFailure',
        nodeSelector: { 'kubernetes.io/hostname': 'node-1' },
        terminationGracePeriodSeconds: 0,
        volumes: [
          { name: 'data', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
          { name: 'logs', hostPath: { path: '/var/log' } },
          { name: 'site', gitRepo: { repository: 'https://example.com/site.git', directory: '.' } },
          { name: 'creds', secret: { secretName: 'db-creds', defaultMode: 0o400 } },
          { name: 'scratch' },
        ],
        containers: [
          {
            name: 'redis',
            image: 'redis@sha256:0123456789abcdef',
            ports: [
              { name: 'redis', containerPort: 6379, hostPort: 6379 },
              { containerPort: 6379, hostPort: 6379, protocol: 'UDP' },
            ],
            env: [
              { name: 'MY.env-name', value: 'x' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              {
                name: 'TIER',
                valueFrom: { fieldRef: { fieldPath: "metadata.labels['example.com/tier']" } },
              },
              {
                name: 'CPU',
                valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } },
              },
              { name: 'PASS', value: '', valueFrom: { secretKeyRef: { name: 'db', key: 'pass' } } },
            ],
            resources: {
              requests: { cpu: '0.5', memory: '128Mi', 'example.com/gpu': 1 },
              limits: { cpu: '500m', memory: '1Gi', 'example.com/gpu': '1' },
            },
            volumeMounts: [
              { name: 'data', mountPath: '/data' },
              { name: 'logs', mountPath: '/var/log/redis', subPath: 'redis' },
              { name: 'scratch', mountPath: '/scratch', readOnly: true },
            ],
            livenessProbe: { tcpSocket: { port: 'redis' }, initialDelaySeconds: 0 },
            readinessProbe: {
              exec: { command: ['redis-cli', 'ping'] },
              periodSeconds: 0,
              successThreshold: 2,
            },
          },
          {
            name: 'sidecar',
            image: 'busybox',
            livenessProbe: { httpGet: { port: 8080, path: '/healthz' } },
            lifecycle: { preStop: { exec: { command: ['sleep', '1'] } } },
          },
        ],
      },
    };
    expect(summary(validateObject(podObject(pod)))).toEqual([]);
  });

  it('accepts a headless service without ports and a NodePort service', () => {
    const headless = baseService();
    headless.spec = { clusterIP: 'None', selector: { app: 'db' } };
    expect(summary(validateObject(serviceObject(headless)))).toEqual([]);

    const nodePort = baseService();
    nodePort.spec = {
      type: 'NodePort',
      selector: { app: 'frontend' },
      ports: [
        { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
        { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', nodePort: 30053 },
      ],
      clusterIP: '10.0.0.10',
      externalTrafficPolicy: 'Local',
    };
    expect(summary(validateObject(serviceObject(nodePort)))).toEqual([]);
  });

  it('accepts a controller whose selector defaults from the template labels', () => {
    const rc = baseRc();
    delete rc.spec.selector;
    expect(summary(validateObject(rcObject(rc)))).toEqual([]);
  });

  it('lets an init container use the host port and port name of a later container', () => {
    const pod = basePod();
    pod.spec.containers[0]!.ports = [{ name: 'http', containerPort: 80, hostPort: 8080 }];
    pod.spec.initContainers = [
      { name: 'warm', image: 'x', ports: [{ name: 'http', containerPort: 80, hostPort: 8080 }] },
    ];
    expect(summary(validateObject(podObject(pod)))).toEqual([]);
  });

  it('refuses generateName without a name, as kubectl apply does', () => {
    const pod = basePod();
    pod.metadata = { generateName: 'web-' };
    const problems = validateObject(podObject(pod));
    expect(problems.map((p) => [p.code, p.field])).toEqual([['field.required', 'metadata.name']]);
    expect(problems[0]?.message).toMatch(/generateName alone cannot be tracked/);
  });
});

const podCases: readonly Case<Pod>[] = [
  // metadata
  [
    'no name',
    (p) => {
      delete p.metadata.name;
    },
    'field.required',
    'metadata.name',
    'name is required',
  ],
  [
    'uppercase name',
    (p) => {
      p.metadata.name = 'Web';
    },
    'name.invalid',
    'metadata.name',
    'must be a DNS-1123 subdomain',
  ],
  [
    'too long name',
    (p) => {
      p.metadata.name = 'a'.repeat(254);
    },
    'name.invalid',
    'metadata.name',
    'this one has 254 characters',
  ],
  [
    'bad generateName',
    (p) => {
      p.metadata = { name: 'web', generateName: 'Web-' };
    },
    'name.invalid',
    'metadata.generateName',
    'not a valid name prefix',
  ],
  [
    'namespace with a dot',
    (p) => {
      p.metadata.namespace = 'a.b';
    },
    'name.invalid',
    'metadata.namespace',
    'DNS-1123 label',
  ],
  [
    'bad label key',
    (p) => {
      p.metadata.labels = { 'a b': 'x' };
    },
    'label.invalid',
    'metadata.labels.a b',
    'label key "a b" must be a label key',
  ],
  [
    'bad label value',
    (p) => {
      p.metadata.labels = { app: '-x' };
    },
    'label.invalid',
    'metadata.labels.app',
    'label value "-x" must be a label value',
  ],
  [
    'long label value',
    (p) => {
      p.metadata.labels = { app: 'x'.repeat(64) };
    },
    'label.invalid',
    'metadata.labels.app',
    'at most 63',
  ],
  [
    'bad annotation key',
    (p) => {
      p.metadata.annotations = { 'a/b/c': '' };
    },
    'annotation.invalid',
    'metadata.annotations.a/b/c',
    "more than one '/'",
  ],
  [
    'huge annotations',
    (p) => {
      p.metadata.annotations = { a: 'x'.repeat(256 * 1024) };
    },
    'annotation.invalid',
    'metadata.annotations',
    '256 KiB',
  ],
  // pod spec
  [
    'no containers',
    (p) => {
      p.spec.containers = [];
    },
    'field.required',
    'spec.containers',
    'at least one container',
  ],
  [
    'negative grace period',
    (p) => {
      p.spec.terminationGracePeriodSeconds = -1;
    },
    'field.invalid',
    'spec.terminationGracePeriodSeconds',
    '0 or more',
  ],
  [
    'zero active deadline',
    (p) => {
      p.spec.activeDeadlineSeconds = 0;
    },
    'field.invalid',
    'spec.activeDeadlineSeconds',
    '1 or more',
  ],
  [
    'bad nodeSelector',
    (p) => {
      p.spec.nodeSelector = { disk: 'fast ssd' };
    },
    'label.invalid',
    'spec.nodeSelector.disk',
    'nodeSelector value "fast ssd"',
  ],
  [
    'bad nodeName',
    (p) => {
      p.spec.nodeName = 'Node_1';
    },
    'name.invalid',
    'spec.nodeName',
    'DNS-1123 subdomain',
  ],
  [
    'dnsPolicy None without nameservers',
    (p) => {
      p.spec.dnsPolicy = 'None';
    },
    'field.required',
    'spec.dnsConfig.nameservers',
    'at least one nameserver',
  ],
  [
    'bad nameserver',
    (p) => {
      p.spec.dnsConfig = { nameservers: ['1.2.3'] };
    },
    'field.invalid',
    'spec.dnsConfig.nameservers[0]',
    'IPv4 or IPv6',
  ],
  // containers
  [
    'bad container name',
    (p) => {
      c0(p).name = 'Web_1';
    },
    'name.invalid',
    'spec.containers[0].name',
    'container name "Web_1" must be a DNS-1123 label',
  ],
  [
    'duplicate container name',
    (p) => {
      p.spec.containers.push({ name: 'web', image: 'x' });
    },
    'container.duplicate-name',
    'spec.containers[1].name',
    'already used by spec.containers[0]',
  ],
  [
    'init container reusing a name',
    (p) => {
      p.spec.initContainers = [{ name: 'web', image: 'x' }];
    },
    'container.duplicate-name',
    'spec.initContainers[0].name',
    'already used by spec.containers[0]',
  ],
  [
    'empty image',
    (p) => {
      c0(p).image = '';
    },
    'field.required',
    'spec.containers[0].image',
    'image is required',
  ],
  [
    'image with whitespace',
    (p) => {
      c0(p).image = ' nginx';
    },
    'field.invalid',
    'spec.containers[0].image',
    'leading or trailing whitespace',
  ],
  [
    'restartPolicy on a regular container',
    (p) => {
      c0(p).restartPolicy = 'Always';
    },
    'field.invalid',
    'spec.containers[0].restartPolicy',
    'only be set on init containers',
  ],
  [
    'init container probe',
    (p) => {
      p.spec.initContainers = [
        { name: 'init', image: 'x', readinessProbe: { exec: { command: ['true'] } } },
      ];
    },
    'probe.invalid',
    'spec.initContainers[0].readinessProbe',
    'may not have probes',
  ],
  // ports
  [
    'containerPort 0',
    (p) => {
      c0(p).ports = [{ containerPort: 0 }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].containerPort',
    'between 1 and 65535',
  ],
  [
    'containerPort 65536',
    (p) => {
      c0(p).ports = [{ containerPort: 65536 }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].containerPort',
    'between 1 and 65535',
  ],
  [
    'hostPort 70000',
    (p) => {
      c0(p).ports = [{ containerPort: 80, hostPort: 70000 }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].hostPort',
    'or 0 for no host port',
  ],
  [
    'negative hostPort',
    (p) => {
      c0(p).ports = [{ containerPort: 80, hostPort: -1 }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].hostPort',
    'between 1 and 65535',
  ],
  [
    'numeric port name',
    (p) => {
      c0(p).ports = [{ containerPort: 80, name: '8080' }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].name',
    'at least one letter',
  ],
  [
    'long port name',
    (p) => {
      c0(p).ports = [{ containerPort: 80, name: 'a'.repeat(16) }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].name',
    'IANA service name',
  ],
  [
    'double hyphen port name',
    (p) => {
      c0(p).ports = [{ containerPort: 80, name: 'a--b' }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].name',
    "no '--'",
  ],
  [
    'port name reused in another container',
    (p) => {
      c0(p).ports = [{ containerPort: 80, name: 'http' }];
      p.spec.containers.push({
        name: 'two',
        image: 'x',
        ports: [{ containerPort: 81, name: 'http' }],
      });
    },
    'port.duplicate-name',
    'spec.containers[1].ports[0].name',
    'already used by spec.containers[0].ports[0].name',
  ],
  [
    'host port used twice',
    (p) => {
      c0(p).ports = [
        { containerPort: 80, hostPort: 8080 },
        { containerPort: 81, hostPort: 8080, protocol: 'TCP' },
      ];
    },
    'port.conflict',
    'spec.containers[0].ports[1].hostPort',
    'host port 8080/TCP is already used by spec.containers[0].ports[0].hostPort',
  ],
  [
    'host network with a different host port',
    (p) => {
      p.spec.hostNetwork = true;
      c0(p).ports = [{ containerPort: 80, hostPort: 8080 }];
    },
    'port.invalid',
    'spec.containers[0].ports[0].hostPort',
    "host's network",
  ],
  // volumes
  [
    'bad volume name',
    (p) => {
      p.spec.volumes = [{ name: 'Data', emptyDir: {} }];
    },
    'volume.invalid',
    'spec.volumes[0].name',
    'DNS-1123 label',
  ],
  [
    'duplicate volume name',
    (p) => {
      p.spec.volumes = [
        { name: 'd', emptyDir: {} },
        { name: 'd', emptyDir: {} },
      ];
    },
    'volume.duplicate-name',
    'spec.volumes[1].name',
    'already used by spec.volumes[0]',
  ],
  [
    'two volume sources',
    (p) => {
      p.spec.volumes = [{ name: 'd', emptyDir: {}, hostPath: { path: '/x' } }];
    },
    'volume.invalid',
    'spec.volumes[0]',
    'exactly one source; this one has emptyDir and hostPath',
  ],
  [
    'relative hostPath',
    (p) => {
      p.spec.volumes = [{ name: 'd', hostPath: { path: 'var/log' } }];
    },
    'volume.invalid',
    'spec.volumes[0].hostPath.path',
    'absolute path',
  ],
  [
    'hostPath with ..',
    (p) => {
      p.spec.volumes = [{ name: 'd', hostPath: { path: '/var/../etc' } }];
    },
    'volume.invalid',
    'spec.volumes[0].hostPath.path',
    "'..'",
  ],
  [
    'gitRepo without repository',
    (p) => {
      p.spec.volumes = [{ name: 'd', gitRepo: { repository: '' } }];
    },
    'field.required',
    'spec.volumes[0].gitRepo.repository',
    'repository URL is required',
  ],
  [
    'gitRepo directory with ..',
    (p) => {
      p.spec.volumes = [
        { name: 'd', gitRepo: { repository: 'https://x/y.git', directory: 'a/../..' } },
      ];
    },
    'volume.invalid',
    'spec.volumes[0].gitRepo.directory',
    "must not contain '..'",
  ],
  [
    'absolute gitRepo directory',
    (p) => {
      p.spec.volumes = [
        { name: 'd', gitRepo: { repository: 'https://x/y.git', directory: '/srv' } },
      ];
    },
    'volume.invalid',
    'spec.volumes[0].gitRepo.directory',
    'relative path',
  ],
  [
    'secret without secretName',
    (p) => {
      p.spec.volumes = [{ name: 'd', secret: {} }];
    },
    'field.required',
    'spec.volumes[0].secret.secretName',
    'name of the secret',
  ],
  [
    'secret mode too large',
    (p) => {
      p.spec.volumes = [{ name: 'd', secret: { secretName: 's', defaultMode: 0o1000 } }];
    },
    'volume.invalid',
    'spec.volumes[0].secret.defaultMode',
    'between 0000 and 0777',
  ],
  [
    'secret item path with ..',
    (p) => {
      p.spec.volumes = [
        { name: 'd', secret: { secretName: 's', items: [{ key: 'k', path: '../k' }] } },
      ];
    },
    'volume.invalid',
    'spec.volumes[0].secret.items[0].path',
    "'..'",
  ],
  [
    'emptyDir medium',
    (p) => {
      p.spec.volumes = [{ name: 'd', emptyDir: { medium: 'Disk' } }];
    },
    'volume.invalid',
    'spec.volumes[0].emptyDir.medium',
    '"Memory"',
  ],
  [
    'emptyDir sizeLimit',
    (p) => {
      p.spec.volumes = [{ name: 'd', emptyDir: { sizeLimit: '1 Gi' } }];
    },
    'quantity.invalid',
    'spec.volumes[0].emptyDir.sizeLimit',
    '"128Mi"',
  ],
  // volume mounts
  [
    'undefined volume',
    (p) => {
      p.spec.volumes = [
        { name: 'a', emptyDir: {} },
        { name: 'b', emptyDir: {} },
      ];
      c0(p).volumeMounts = [{ name: 'c', mountPath: '/c' }];
    },
    'volume.undefined',
    'spec.containers[0].volumeMounts[0].name',
    'no volume named "c" in spec.volumes; defined: a, b',
  ],
  [
    'no volumes at all',
    (p) => {
      c0(p).volumeMounts = [{ name: 'c', mountPath: '/c' }];
    },
    'volume.undefined',
    'spec.containers[0].volumeMounts[0].name',
    'defined: none',
  ],
  [
    'relative mountPath',
    (p) => {
      p.spec.volumes = [{ name: 'a', emptyDir: {} }];
      c0(p).volumeMounts = [{ name: 'a', mountPath: 'data' }];
    },
    'volume.invalid',
    'spec.containers[0].volumeMounts[0].mountPath',
    'absolute path',
  ],
  [
    'mountPath used twice',
    (p) => {
      p.spec.volumes = [
        { name: 'a', emptyDir: {} },
        { name: 'b', emptyDir: {} },
      ];
      c0(p).volumeMounts = [
        { name: 'a', mountPath: '/d' },
        { name: 'b', mountPath: '/d' },
      ];
    },
    'volume.invalid',
    'spec.containers[0].volumeMounts[1].mountPath',
    'already mounted by spec.containers[0].volumeMounts[0]',
  ],
  [
    'subPath with ..',
    (p) => {
      p.spec.volumes = [{ name: 'a', emptyDir: {} }];
      c0(p).volumeMounts = [{ name: 'a', mountPath: '/d', subPath: 'x/../../y' }];
    },
    'volume.invalid',
    'spec.containers[0].volumeMounts[0].subPath',
    "'..'",
  ],
  // env
  [
    'env name starting with a digit',
    (p) => {
      c0(p).env = [{ name: '1X', value: 'x' }];
    },
    'env.invalid',
    'spec.containers[0].env[0].name',
    'environment variable name',
  ],
  [
    'value and valueFrom',
    (p) => {
      c0(p).env = [
        { name: 'X', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom',
    'non-empty value',
  ],
  [
    'empty valueFrom',
    (p) => {
      c0(p).env = [{ name: 'X', valueFrom: {} }];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom',
    'needs one of fieldRef',
  ],
  [
    'two valueFrom sources',
    (p) => {
      c0(p).env = [
        {
          name: 'X',
          valueFrom: {
            fieldRef: { fieldPath: 'metadata.name' },
            secretKeyRef: { name: 's', key: 'k' },
          },
        },
      ];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom',
    'only one source; this one has fieldRef and secretKeyRef',
  ],
  [
    'unsupported fieldPath',
    (p) => {
      c0(p).env = [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } }];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath',
    'use one of metadata.name',
  ],
  [
    'whole labels in env',
    (p) => {
      c0(p).env = [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } }];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath',
    'not supported',
  ],
  [
    'bad label key in fieldPath',
    (p) => {
      c0(p).env = [{ name: 'X', valueFrom: { fieldRef: { fieldPath: "metadata.labels['a b']" } } }];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath',
    'the key "a b"',
  ],
  [
    'fieldRef apiVersion v2',
    (p) => {
      c0(p).env = [
        { name: 'X', valueFrom: { fieldRef: { apiVersion: 'v2', fieldPath: 'metadata.name' } } },
      ];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom.fieldRef.apiVersion',
    '"v1"',
  ],
  [
    'unsupported resourceFieldRef',
    (p) => {
      c0(p).env = [{ name: 'X', valueFrom: { resourceFieldRef: { resource: 'limits.gpu' } } }];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom.resourceFieldRef.resource',
    'limits.cpu',
  ],
  [
    'cpu divisor in bytes',
    (p) => {
      c0(p).env = [
        { name: 'X', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1Mi' } } },
      ];
    },
    'quantity.invalid',
    'spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor',
    '1m, 1',
  ],
  [
    'secretKeyRef without name',
    (p) => {
      c0(p).env = [{ name: 'X', valueFrom: { secretKeyRef: { key: 'k' } } }];
    },
    'field.required',
    'spec.containers[0].env[0].valueFrom.secretKeyRef.name',
    'name of the secret',
  ],
  [
    'bad config key',
    (p) => {
      c0(p).env = [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'c', key: 'a/b' } } }];
    },
    'env.invalid',
    'spec.containers[0].env[0].valueFrom.configMapKeyRef.key',
    'letters, digits',
  ],
  [
    'envFrom without a source',
    (p) => {
      c0(p).envFrom = [{ prefix: 'X_' }];
    },
    'env.invalid',
    'spec.containers[0].envFrom[0]',
    'exactly one of configMapRef and secretRef',
  ],
  // resources
  [
    'unparseable quantity',
    (p) => {
      c0(p).resources = { limits: { memory: '1GB' } };
    },
    'quantity.invalid',
    'spec.containers[0].resources.limits.memory',
    '"500m", "0.5", "128Mi", "1Gi"',
  ],
  [
    'negative quantity',
    (p) => {
      c0(p).resources = { requests: { cpu: '-1' } };
    },
    'quantity.invalid',
    'spec.containers[0].resources.requests.cpu',
    '0 or more',
  ],
  [
    'request above limit',
    (p) => {
      c0(p).resources = { requests: { cpu: '1.5' }, limits: { cpu: '1' } };
    },
    'resource.invalid',
    'spec.containers[0].resources.requests.cpu',
    'the cpu request (1500m) is more than its limit (1)',
  ],
  [
    'memory request above limit in other units',
    (p) => {
      c0(p).resources = { requests: { memory: '1025Mi' }, limits: { memory: '1Gi' } };
    },
    'resource.invalid',
    'spec.containers[0].resources.requests.memory',
    'more than its limit (1Gi)',
  ],
  [
    'unknown unprefixed resource',
    (p) => {
      c0(p).resources = { limits: { gpu: '1' } };
    },
    'resource.invalid',
    'spec.containers[0].resources.limits.gpu',
    'example.com/gpu',
  ],
  [
    'fractional extended resource',
    (p) => {
      c0(p).resources = { limits: { 'example.com/gpu': '0.5' } };
    },
    'quantity.invalid',
    'spec.containers[0].resources.limits.example.com/gpu',
    'whole number',
  ],
  [
    'extended request without limit',
    (p) => {
      c0(p).resources = { requests: { 'example.com/gpu': '1' } };
    },
    'resource.invalid',
    'spec.containers[0].resources.requests.example.com/gpu',
    'cannot be overcommitted',
  ],
  // probes
  [
    'probe without handler',
    (p) => {
      c0(p).livenessProbe = { periodSeconds: 5 };
    },
    'probe.invalid',
    'spec.containers[0].livenessProbe',
    'needs a handler',
  ],
  [
    'probe with two handlers',
    (p) => {
      c0(p).readinessProbe = { exec: { command: ['true'] }, tcpSocket: { port: 80 } };
    },
    'probe.invalid',
    'spec.containers[0].readinessProbe',
    'exec and tcpSocket',
  ],
  [
    'probe port 0',
    (p) => {
      c0(p).livenessProbe = { httpGet: { port: 0 } };
    },
    'probe.invalid',
    'spec.containers[0].livenessProbe.httpGet.port',
    'between 1 and 65535',
  ],
  [
    'probe port quoted number',
    (p) => {
      c0(p).livenessProbe = { tcpSocket: { port: '8080' } };
    },
    'probe.invalid',
    'spec.containers[0].livenessProbe.tcpSocket.port',
    'without quotes',
  ],
  [
    'negative initial delay',
    (p) => {
      c0(p).livenessProbe = { tcpSocket: { port: 80 }, initialDelaySeconds: -1 };
    },
    'probe.invalid',
    'spec.containers[0].livenessProbe.initialDelaySeconds',
    '0 or more',
  ],
  [
    'negative period',
    (p) => {
      c0(p).livenessProbe = { tcpSocket: { port: 80 }, periodSeconds: -5 };
    },
    'probe.invalid',
    'spec.containers[0].livenessProbe.periodSeconds',
    '1 or more',
  ],
  [
    'liveness successThreshold 2',
    (p) => {
      c0(p).livenessProbe = { tcpSocket: { port: 80 }, successThreshold: 2 };
    },
    'probe.invalid',
    'spec.containers[0].livenessProbe.successThreshold',
    'must be 1 for a liveness probe',
  ],
  [
    'exec without command',
    (p) => {
      c0(p).livenessProbe = { exec: {} };
    },
    'field.required',
    'spec.containers[0].livenessProbe.exec.command',
    'command',
  ],
  [
    'bad header name',
    (p) => {
      c0(p).livenessProbe = { httpGet: { port: 80, httpHeaders: [{ name: 'X Y', value: '1' }] } };
    },
    'probe.invalid',
    'spec.containers[0].livenessProbe.httpGet.httpHeaders[0].name',
    'HTTP header name',
  ],
  [
    'readiness grace period',
    (p) => {
      c0(p).readinessProbe = { tcpSocket: { port: 80 }, terminationGracePeriodSeconds: 5 };
    },
    'probe.invalid',
    'spec.containers[0].readinessProbe.terminationGracePeriodSeconds',
    'readiness',
  ],
  [
    'lifecycle with two handlers',
    (p) => {
      c0(p).lifecycle = { postStart: { exec: { command: ['x'] }, sleep: { seconds: 1 } } };
    },
    'field.invalid',
    'spec.containers[0].lifecycle.postStart',
    'exec and sleep',
  ],
];

describe('validateObject: pod rules', () => {
  it.each(podCases)('%s', (_description, change, code, field, message) => {
    expectOnly(podProblems(change), code, field, message);
  });
});

const rcCases: readonly Case<ReplicationController>[] = [
  [
    'bad name',
    (rc) => {
      rc.metadata.name = 'Front';
    },
    'name.invalid',
    'metadata.name',
    'DNS-1123 subdomain',
  ],
  [
    'negative replicas',
    (rc) => {
      rc.spec.replicas = -1;
    },
    'field.invalid',
    'spec.replicas',
    '0 or more',
  ],
  [
    'negative minReadySeconds',
    (rc) => {
      rc.spec.minReadySeconds = -1;
    },
    'field.invalid',
    'spec.minReadySeconds',
    '0 or more',
  ],
  [
    'selector value differs',
    (rc) => {
      rc.spec.selector = { app: 'backend' };
    },
    'selector.mismatch',
    'spec.selector.app',
    'selector requires app=backend but spec.template.metadata.labels has app=frontend',
  ],
  [
    'selector key missing from template',
    (rc) => {
      rc.spec.selector = { app: 'frontend', env: 'prod' };
    },
    'selector.mismatch',
    'spec.selector.env',
    'has no "env"',
  ],
  [
    'no selector and no template labels',
    (rc) => {
      rc.spec.selector = {};
      rc.spec.template.metadata = {};
    },
    'field.required',
    'spec.selector',
    'must not be empty',
  ],
  [
    'explicit OnFailure',
    (rc) => {
      rc.spec.template.spec.restartPolicy = 'OnFailure';
    },
    'field.invalid',
    'spec.template.spec.restartPolicy',
    '"OnFailure" is not supported in a replication controller\'s template',
  ],
  [
    'explicit Never',
    (rc) => {
      rc.spec.template.spec.restartPolicy = 'Never';
    },
    'field.invalid',
    'spec.template.spec.restartPolicy',
    'must be "Always"',
  ],
  [
    'activeDeadlineSeconds in the template',
    (rc) => {
      rc.spec.template.spec.activeDeadlineSeconds = 10;
    },
    'field.invalid',
    'spec.template.spec.activeDeadlineSeconds',
    'not supported',
  ],
  [
    'template container rules apply',
    (rc) => {
      rc.spec.template.spec.containers[0]!.image = '';
    },
    'field.required',
    'spec.template.spec.containers[0].image',
    'image is required',
  ],
];

describe('validateObject: replication controller rules', () => {
  it.each(rcCases)('%s', (_description, change, code, field, message) => {
    const rc = baseRc();
    change(rc);
    expectOnly(validateObject(rcObject(rc)), code, field, message);
  });

  it('reports a bad selector value written in both places at both places', () => {
    const rc = baseRc();
    rc.spec.selector = { app: 'front end' };
    rc.spec.template.metadata = { labels: { app: 'front end' } };
    const problems = validateObject(rcObject(rc));
    expect(problems.map((p) => [p.code, p.field])).toEqual([
      ['selector.invalid', 'spec.selector.app'],
      ['label.invalid', 'spec.template.metadata.labels.app'],
    ]);
  });

  it('reports a bad template label once when the selector defaults from it', () => {
    const rc = baseRc();
    delete rc.spec.selector;
    rc.spec.template.metadata = { labels: { app: 'front end' } };
    const problems = validateObject(rcObject(rc));
    expect(problems.map((p) => [p.code, p.field])).toEqual([
      ['label.invalid', 'spec.template.metadata.labels.app'],
    ]);
  });

  it('reports one mismatch per differing key', () => {
    const rc = baseRc();
    rc.spec.selector = { app: 'x', tier: 'y' };
    const problems = validateObject(rcObject(rc));
    expect(problems.map((p) => [p.code, p.field])).toEqual([
      ['selector.mismatch', 'spec.selector.app'],
      ['selector.mismatch', 'spec.selector.tier'],
    ]);
  });
});

const serviceCases: readonly Case<Service>[] = [
  [
    'name not a DNS-1035 label',
    (s) => {
      s.metadata.name = '1web';
    },
    'name.invalid',
    'metadata.name',
    'DNS-1035 label',
  ],
  [
    'dotted name',
    (s) => {
      s.metadata.name = 'web.app';
    },
    'name.invalid',
    'metadata.name',
    'DNS-1035 label',
  ],
  [
    'no ports',
    (s) => {
      s.spec.ports = [];
    },
    'field.required',
    'spec.ports',
    'at least one port',
  ],
  [
    'port 0',
    (s) => {
      s.spec.ports = [{ port: 0 }];
    },
    'port.invalid',
    'spec.ports[0].port',
    'between 1 and 65535',
  ],
  [
    'unnamed port among two',
    (s) => {
      s.spec.ports = [{ name: 'http', port: 80 }, { port: 443 }];
    },
    'field.required',
    'spec.ports[1].name',
    'more than one port',
  ],
  [
    'duplicate port names',
    (s) => {
      s.spec.ports = [
        { name: 'http', port: 80 },
        { name: 'http', port: 81 },
      ];
    },
    'port.duplicate-name',
    'spec.ports[1].name',
    'already used by spec.ports[0].name',
  ],
  [
    'bad port name',
    (s) => {
      s.spec.ports = [{ name: 'HTTP', port: 80 }];
    },
    'port.invalid',
    'spec.ports[0].name',
    'DNS-1123 label',
  ],
  [
    'same port and protocol twice',
    (s) => {
      s.spec.ports = [
        { name: 'a', port: 80 },
        { name: 'b', port: 80, targetPort: 81 },
      ];
    },
    'port.conflict',
    'spec.ports[1].port',
    'port 80/TCP is already used by spec.ports[0].port',
  ],
  [
    'targetPort out of range',
    (s) => {
      s.spec.ports = [{ port: 80, targetPort: 70000 }];
    },
    'port.invalid',
    'spec.ports[0].targetPort',
    'between 1 and 65535',
  ],
  [
    'targetPort bad name',
    (s) => {
      s.spec.ports = [{ port: 80, targetPort: 'Web_Port' }];
    },
    'port.invalid',
    'spec.ports[0].targetPort',
    'port name',
  ],
  [
    'nodePort on ClusterIP',
    (s) => {
      s.spec.ports = [{ port: 80, nodePort: 30080 }];
    },
    'port.invalid',
    'spec.ports[0].nodePort',
    'may not be set when type is "ClusterIP"',
  ],
  [
    'nodePort out of range',
    (s) => {
      s.spec.type = 'NodePort';
      s.spec.ports = [{ port: 80, nodePort: 8080 }];
    },
    'port.invalid',
    'spec.ports[0].nodePort',
    'between 30000 and 32767',
  ],
  [
    'nodePort twice',
    (s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.ports = [
        { name: 'a', port: 80, nodePort: 30080 },
        { name: 'b', port: 81, nodePort: 30080 },
      ];
    },
    'port.conflict',
    'spec.ports[1].nodePort',
    'node port 30080/TCP',
  ],
  [
    'bad clusterIP',
    (s) => {
      s.spec.clusterIP = '10.0.0.256';
    },
    'field.invalid',
    'spec.clusterIP',
    '"None" (headless)',
  ],
  [
    'bad selector key',
    (s) => {
      s.spec.selector = { '-app': 'x' };
    },
    'selector.invalid',
    'spec.selector.-app',
    'selector key "-app"',
  ],
  [
    'ExternalName without a name',
    (s) => {
      s.spec = { type: 'ExternalName' };
    },
    'field.required',
    'spec.externalName',
    'DNS name is required',
  ],
  [
    'externalTrafficPolicy on ClusterIP',
    (s) => {
      s.spec.externalTrafficPolicy = 'Local';
    },
    'field.invalid',
    'spec.externalTrafficPolicy',
    'NodePort or LoadBalancer',
  ],
  [
    'ClientIP timeout too long',
    (s) => {
      s.spec.sessionAffinity = 'ClientIP';
      s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 86401 } };
    },
    'field.invalid',
    'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
    'between 1 and 86400',
  ],
];

describe('validateObject: service rules', () => {
  it.each(serviceCases)('%s', (_description, change, code, field, message) => {
    const service = baseService();
    change(service);
    expectOnly(validateObject(serviceObject(service)), code, field, message);
  });
});

describe('validateObject: defaulted requests', () => {
  it('reports a bad limit once, not again at the request it defaults', () => {
    const problems = podProblems((p) => {
      c0(p).resources = { limits: { memory: '1GB', gpu: '1' } };
    });
    expect(problems.map((p) => [p.code, p.field])).toEqual([
      ['quantity.invalid', 'spec.containers[0].resources.limits.memory'],
      ['resource.invalid', 'spec.containers[0].resources.limits.gpu'],
    ]);
  });

  it('still compares a written request with its limit', () => {
    const problems = podProblems((p) => {
      c0(p).resources = { limits: { cpu: '1' }, requests: { cpu: '2' } };
    });
    expect(problems.map((p) => p.code)).toEqual(['resource.invalid']);
  });

  it('accepts an extended resource with only a limit (the request defaults to it)', () => {
    expect(
      podProblems((p) => {
        c0(p).resources = { limits: { 'example.com/gpu': 2 } };
      }),
    ).toEqual([]);
  });
});

describe('validateObject: reporting', () => {
  it('collects every problem instead of stopping at the first', () => {
    const problems = podProblems((p) => {
      p.metadata.name = 'Bad_Name';
      c0(p).image = '';
      c0(p).ports = [{ containerPort: 0, name: '--' }];
      c0(p).volumeMounts = [{ name: 'missing', mountPath: 'rel' }];
    });
    expect(problems.map((p) => p.code).sort()).toEqual([
      'field.required',
      'name.invalid',
      'port.invalid',
      'port.invalid',
      'volume.invalid',
      'volume.undefined',
    ]);
  });

  it('places each problem at its field, map keys included, and names the object', () => {
    const problems = podProblems((p) => {
      p.metadata.labels = { 'bad key': 'v' };
      c0(p).ports = [{ containerPort: 0 }];
    });
    for (const problem of problems) {
      expect(problem.origin.file).toBe(`pod.yaml#${problem.field}`);
      expect(problem.object).toBe('pod/web');
    }
    expect(problems.map((p) => p.field)).toContain('metadata.labels.bad key');
  });

  it('names an object without a name as <unnamed>', () => {
    const problems = podProblems((p) => {
      delete p.metadata.name;
    });
    expect(problems[0]?.object).toBe('pod/<unnamed>');
  });

  it('does not change the object it checks', () => {
    const pod = deepFreeze(basePod());
    const before = structuredClone(pod);
    validateObject(podObject(pod));
    expect(pod).toEqual(before);
  });

  it('gives the same result for an object and its defaulted form', () => {
    const rc = baseRc();
    rc.spec.template.spec.containers[0]!.ports = [{ containerPort: 0 }];
    const raw = rcObject(rc);
    expect(validateObject(applyDefaults(raw))).toEqual(validateObject(raw));
  });
});

describe('validateAcross', () => {
  function named(name: string, file: string, namespace?: string) {
    const pod = basePod();
    pod.metadata = namespace === undefined ? { name } : { name, namespace };
    return podObject(pod, file);
  }

  it('accepts distinct objects, and equal names in other kinds or namespaces', () => {
    const service = baseService();
    service.metadata.name = 'web';
    expect(
      validateAcross([
        named('web', 'a.yaml'),
        named('db', 'b.yaml'),
        named('web', 'c.yaml', 'other'),
        serviceObject(service),
      ]),
    ).toEqual([]);
  });

  it('reports a duplicate at each place, naming the other', () => {
    const problems = validateAcross([
      named('web', 'guestbook/a.yaml'),
      named('web', 'guestbook/b.yaml', 'default'),
    ]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatchObject({
      code: 'object.duplicate',
      object: 'pod/web',
      field: 'metadata.name',
      origin: { file: 'guestbook/a.yaml#metadata.name' },
      message:
        'duplicate pod "web" in namespace "default": also defined at guestbook/b.yaml#metadata.name:3:1',
    });
    expect(problems[1]?.message).toContain('also defined at guestbook/a.yaml#metadata.name:3:1');
  });

  it('names every other place when there are more than two', () => {
    const problems = validateAcross([
      named('web', 'a.yaml'),
      named('web', 'b.yaml'),
      named('web', 'c.yaml'),
    ]);
    expect(problems).toHaveLength(3);
    expect(problems[0]?.message).toMatch(/also defined at b\.yaml\S* and c\.yaml/);
  });

  it('skips objects that only have generateName', () => {
    const pod = basePod();
    pod.metadata = { generateName: 'web-' };
    expect(
      validateAcross([podObject(pod, 'a.yaml'), podObject(structuredClone(pod), 'b.yaml')]),
    ).toEqual([]);
  });

  it('reports a node port claimed by two services', () => {
    const first = baseService();
    first.spec = { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] };
    const second = baseService();
    second.metadata.name = 'other';
    second.spec = { type: 'LoadBalancer', ports: [{ port: 81, nodePort: 30080 }] };
    const clusterIp = baseService();
    clusterIp.metadata.name = 'third';
    const problems = validateAcross([
      serviceObject(first, 'a.yaml'),
      serviceObject(second, 'b.yaml'),
      serviceObject(clusterIp, 'c.yaml'),
    ]);
    expect(problems.map((p) => [p.code, p.object, p.field])).toEqual([
      ['port.conflict', 'service/frontend', 'spec.ports[0].nodePort'],
      ['port.conflict', 'service/other', 'spec.ports[0].nodePort'],
    ]);
    expect(problems[0]?.message).toContain('service/other');
  });
});

describe('isIp', () => {
  it.each([
    ['10.0.0.1', true],
    ['255.255.255.255', true],
    ['0.0.0.0', true],
    ['::', true],
    ['::1', true],
    ['fe80::1', true],
    ['2001:db8::ff00:42:8329', true],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', true],
    ['::ffff:192.0.2.1', true],
    ['10.0.0.256', false],
    ['10.0.0', false],
    ['010.0.0.1', false],
    ['1:2:3:4:5:6:7:8:9', false],
    ['1::2::3', false],
    [':1', false],
    ['gggg::1', false],
    ['None', false],
    ['', false],
  ])('%j → %s', (text, ok) => {
    expect(isIp(text)).toBe(ok);
  });
});
