import { describe, expect, it } from 'vitest';
import { clusterIPCandidates, nodePortCandidates } from '../../operator/store/index.js';

describe('allocation ranges', () => {
  it('walks the node port range in order, both ends included', () => {
    expect([...nodePortCandidates({ min: 30000, max: 30003 })]).toEqual([
      '30000',
      '30001',
      '30002',
      '30003',
    ]);
    const all = [...nodePortCandidates()];
    expect(all[0]).toBe('30000');
    expect(all.at(-1)).toBe('32767');
  });

  it('gives the usable cluster IPs of a CIDR, not network, first host or broadcast', () => {
    expect([...clusterIPCandidates('10.96.0.0/29')]).toEqual([
      '10.96.0.2',
      '10.96.0.3',
      '10.96.0.4',
      '10.96.0.5',
      '10.96.0.6',
    ]);
    // Host bits in the address are ignored; the walk crosses octets.
    const wide = [...clusterIPCandidates('10.96.7.9/16')];
    expect(wide.length).toBe(2 ** 16 - 3);
    expect(wide[0]).toBe('10.96.0.2');
    expect(wide[254]).toBe('10.96.1.0');
    expect(wide.at(-1)).toBe('10.96.255.254');
  });

  it('refuses what is not an IPv4 CIDR', () => {
    for (const bad of ['10.96.0.0', '10.96.0/16', '10.96.0.256/16', '10.96.0.0/31', 'x/16']) {
      expect(() => [...clusterIPCandidates(bad)], bad).toThrow(RangeError);
    }
  });
});
