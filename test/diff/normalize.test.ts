import { describe, expect, it } from 'vitest';
import { compareObjects } from '../../operator/diff/compare.js';
import { normalize, normalizeUncached } from '../../operator/diff/normalize.js';
import type { Pod, Service } from '../../operator/model/generated/types.js';
import { applied, pod, service } from '../plan/objects.js';

const keyOfPod = (object: Pod) => normalizeUncached('Pod', object).key;

describe('normalize', () => {
  it('drops status and server-made metadata', () => {
    const live = applied(pod('web')).object;
    const normalized = normalizeUncached('Pod', live).object as unknown as Record<string, unknown>;
    expect(normalized).not.toHaveProperty('status');
    expect(normalized.metadata).toEqual({
      labels: { app: 'web' },
      name: 'web',
      namespace: 'default',
    });
  });

  it('applies the API defaults, so written-out defaults equal left-out ones', () => {
    const written = pod('web');
    const container = written.spec.containers[0];
    if (container === undefined) throw new Error('fixture has a container');
    container.imagePullPolicy = 'IfNotPresent';
    container.terminationMessagePath = '/dev/termination-log';
    written.spec.restartPolicy = 'Always';
    written.spec.terminationGracePeriodSeconds = 30;
    written.metadata.namespace = 'default';
    expect(keyOfPod(written)).toBe(keyOfPod(pod('web')));
    const other = pod('web');
    other.spec.restartPolicy = 'Never';
    expect(keyOfPod(other)).not.toBe(keyOfPod(pod('web')));
  });

  it('writes quantities in canonical text, so equal forms of one family share a key', () => {
    const halfCore = pod('web');
    const milli = pod('web');
    const mib = pod('web');
    if (halfCore.spec.containers[0] === undefined) throw new Error('fixture has a container');
    if (milli.spec.containers[0] === undefined) throw new Error('fixture has a container');
    if (mib.spec.containers[0] === undefined) throw new Error('fixture has a container');
    halfCore.spec.containers[0].resources = { limits: { cpu: '0.5', memory: '1Gi' } };
    milli.spec.containers[0].resources = { limits: { cpu: '500m', memory: '1Gi' } };
    mib.spec.containers[0].resources = { limits: { cpu: 0.5, memory: '1024Mi' } };
    expect(keyOfPod(milli)).toBe(keyOfPod(halfCore));
    expect(keyOfPod(mib)).toBe(keyOfPod(halfCore));
    const normalized = normalizeUncached('Pod', halfCore).object as Pod;
    expect(normalized.spec.containers[0]?.resources?.limits).toEqual({
      cpu: '500m',
      memory: '1Gi',
    });
  });

  it('leaves quantities of other families to the comparison, which finds them equal', () => {
    const binary = pod('web');
    const decimal = pod('web');
    if (decimal.spec.containers[0] === undefined) throw new Error('fixture has a container');
    decimal.spec.containers[0].resources = { limits: { cpu: '0.5', memory: '1073741824' } };
    const a = normalizeUncached('Pod', binary);
    const b = normalizeUncached('Pod', decimal);
    expect(a.key).not.toBe(b.key);
    expect(compareObjects(a.object, b.object)).toEqual([]);
  });

  it('does not read a label named like a quantity field as a quantity', () => {
    const labelled = pod('web');
    labelled.metadata.labels = { divisor: '1.0', sizeLimit: '0.5' };
    const normalized = normalizeUncached('Pod', labelled).object;
    expect(normalized.metadata.labels).toEqual({ divisor: '1.0', sizeLimit: '0.5' });
  });

  it('sorts keys, so the order things were written in does not matter', () => {
    const reordered = JSON.parse(
      JSON.stringify(pod('web'), (_key, value: unknown) =>
        value !== null && typeof value === 'object' && !Array.isArray(value)
          ? Object.fromEntries(Object.entries(value).reverse())
          : value,
      ),
    ) as Pod;
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(pod('web'))[0]);
    expect(keyOfPod(reordered)).toBe(keyOfPod(pod('web')));
  });

  it('treats empty label maps and empty lists as absent', () => {
    const empty = pod('web');
    empty.metadata.labels = {};
    const none = pod('web');
    delete none.metadata.labels;
    if (empty.spec.containers[0] === undefined) throw new Error('fixture has a container');
    empty.spec.containers[0].env = [];
    expect(keyOfPod(empty)).toBe(keyOfPod(none));
  });

  it('treats an empty resources or securityContext as unset, but keeps an empty emptyDir', () => {
    const empty = pod('web');
    const container = empty.spec.containers[0];
    if (container === undefined) throw new Error('fixture has a container');
    container.resources = { limits: {} };
    container.securityContext = {};
    const none = pod('web');
    delete none.spec.containers[0]?.resources;
    expect(keyOfPod(empty)).toBe(keyOfPod(none));
    const withVolume = pod('web');
    withVolume.spec.volumes = [{ name: 'scratch', emptyDir: {} }];
    const normalized = normalizeUncached('Pod', withVolume).object as Pod;
    expect(normalized.spec.volumes).toEqual([{ name: 'scratch', emptyDir: { medium: '' } }]);
  });

  it('keeps allocated fields apart: service IPs and node ports, a pod node', () => {
    const live = applied(service('api')).object as Service;
    live.spec.type = 'NodePort';
    const [port] = live.spec.ports ?? [];
    if (port === undefined) throw new Error('fixture has a port');
    port.nodePort = 30080;
    const normalized = normalizeUncached('Service', live);
    expect(normalized.allocated).toEqual({
      'spec.clusterIP': '10.96.0.1',
      'spec.clusterIPs': ['10.96.0.1'],
      'spec.ports[0].nodePort': 30080,
    });
    const spec = (normalized.object as Service).spec;
    expect(spec.clusterIP).toBeUndefined();
    expect(spec.ports?.[0]?.nodePort).toBeUndefined();
    expect(normalizeUncached('Pod', applied(pod('web')).object).allocated).toEqual({
      'spec.nodeName': 'node-a',
    });
  });

  it('does not change its input', () => {
    const input = applied(pod('web')).object;
    const before = structuredClone(input);
    normalizeUncached('Pod', input);
    expect(input).toEqual(before);
  });

  it('remembers the result for the same object', () => {
    const input = pod('web');
    expect(normalize('Pod', input)).toBe(normalize('Pod', input));
    expect(normalize('Pod', pod('web'))).not.toBe(normalize('Pod', input));
  });
});
