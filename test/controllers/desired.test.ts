import { describe, expect, it } from 'vitest';
import { desiredFromManifests } from '../../operator/controllers/desired.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS } from '../../operator/manifests/types.js';

const SOURCE = `
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80 }]
---
apiVersion: v1
kind: ReplicationController
metadata: { name: web }
spec:
  replicas: 2
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: main, image: nginx }]
---
apiVersion: v1
kind: Pod
metadata: { name: debug }
spec:
  containers: [{ name: main, image: busybox:1.36 }]
`;

describe('desiredFromManifests', () => {
  it('splits loaded objects by kind, keeping the loader’s defaults and source order', () => {
    const loaded = processFile('app.yaml', new TextEncoder().encode(SOURCE), DEFAULT_PARSE_LIMITS);
    expect(loaded.problems).toEqual([]);
    const desired = desiredFromManifests(loaded.objects);
    expect(desired.pods.map((p) => p.metadata.name)).toEqual(['debug']);
    expect(desired.controllers.map((c) => c.metadata.name)).toEqual(['web']);
    expect(desired.services.map((s) => s.metadata.name)).toEqual(['web']);
    // Defaults from the loader: the namespace, and the RC's selector from its template.
    expect(desired.pods[0]?.metadata.namespace).toBe('default');
    expect(desired.controllers[0]?.spec.selector).toEqual({ app: 'web' });
    // No pods are made for the RC here: that needs live state (reconcileReplicationController).
    expect(desired.pods).toHaveLength(1);
  });

  it('gives empty lists for no objects', () => {
    expect(desiredFromManifests([])).toEqual({ pods: [], controllers: [], services: [] });
  });
});
