import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readOperatorState } from '../../operator/operator/readout.js';
import { openStore, type Store } from '../../operator/store/store.js';

/**
 * The readout's services come from what the store holds: an operator started with another
 * --service-cidr than the default holds addresses outside 10.96.0.0/16, and reading shows them.
 */

let dir = '';
let store: Store | undefined;

afterEach(() => {
  store?.close();
  store = undefined;
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function serviceStore(clusterIP: string): Store {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-readout-'));
  const opened = openStore(dir);
  const now = new Date().toISOString();
  opened.recordApplied(
    'shop',
    [
      {
        ref: { kind: 'Service', namespace: 'default', name: 'web' },
        applied: {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'default' },
          spec: {
            type: 'NodePort',
            selector: { app: 'web' },
            ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
          },
        },
      },
    ],
    now,
  );
  opened.allocate('clusterIP', 'Service/default/web', [clusterIP], now);
  opened.allocate('nodePort', 'Service/default/web#http', ['30999'], now);
  return opened;
}

describe('readOperatorState services', () => {
  it('shows a service with its held address from the default range', () => {
    store = serviceStore('10.96.0.7');
    const [view] = readOperatorState(store, Date.now()).services ?? [];
    expect(view?.clusterIP).toBe('10.96.0.7');
    expect(view?.ports[0]?.nodePort).toBe(30999);
  });

  it('shows a service with its held address from another range', () => {
    store = serviceStore('10.99.0.2');
    const services = readOperatorState(store, Date.now()).services ?? [];
    expect(services.map((v) => [v.name, v.clusterIP])).toEqual([['web', '10.99.0.2']]);
    expect(services[0]?.ports[0]?.nodePort).toBe(30999);
  });

  it('shows a held address in a range outside 10.0.0.0/8 too', () => {
    store = serviceStore('192.168.200.10');
    const services = readOperatorState(store, Date.now()).services ?? [];
    expect(services.map((v) => v.clusterIP)).toEqual(['192.168.200.10']);
  });
});
