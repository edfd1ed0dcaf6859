import { describe, expect, test } from 'vitest';
import type { PodSpec } from '../../operator/model/generated/types.js';
import { podToPlace } from '../../operator/scheduler/index.js';

const MI = 1024 ** 2;

describe('podToPlace', () => {
  test('sums container requests, falls back to limits, takes the largest init container and adds overhead', () => {
    const spec: PodSpec = {
      containers: [
        { name: 'a', image: 'x', resources: { requests: { cpu: '250m', memory: '128Mi' } } },
        { name: 'b', image: 'x', resources: { limits: { cpu: '0.5', memory: '64Mi' } } },
        { name: 'c', image: 'x' },
      ],
      initContainers: [
        { name: 'big', image: 'x', resources: { requests: { cpu: '2', memory: '1Mi' } } },
      ],
      overhead: { cpu: '10m', memory: 1024 },
    };
    expect(podToPlace('default/p', spec)).toEqual({
      key: 'default/p',
      cpuMillis: 2010,
      memoryBytes: 192 * MI + 1024,
      hostPorts: [],
    });
  });

  test('host ports with their protocol (TCP by default) and host IP; container-only ports skipped', () => {
    const spec: PodSpec = {
      containers: [
        {
          name: 'a',
          image: 'x',
          ports: [
            { containerPort: 80, hostPort: 8080 },
            { containerPort: 53, hostPort: 53, protocol: 'UDP', hostIP: '10.0.0.1' },
            { containerPort: 9090 },
          ],
        },
      ],
      nodeName: 'n1',
      nodeSelector: { disk: 'ssd' },
    };
    expect(podToPlace('default/p', spec, 'default/ReplicationController/web')).toEqual({
      key: 'default/p',
      owner: 'default/ReplicationController/web',
      nodeName: 'n1',
      nodeSelector: { disk: 'ssd' },
      cpuMillis: 0,
      memoryBytes: 0,
      hostPorts: [
        { port: 8080, protocol: 'TCP', hostIP: '' },
        { port: 53, protocol: 'UDP', hostIP: '10.0.0.1' },
      ],
    });
  });
});
