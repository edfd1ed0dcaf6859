import { describe, expect, it } from 'vitest';
import { sandboxDns } from '../../operator/agent/docker-runtime.js';
import type { PodSpec } from '../../operator/model/generated/types.js';

/** The DNS part of a pod sandbox's HostConfig, as the kubelet would write resolv.conf. */

const cluster = { server: '172.17.0.1' };
const clusterSearch = ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];

function spec(fields: Partial<PodSpec> = {}): PodSpec {
  return { containers: [{ name: 'app', image: 'busybox' }], ...fields };
}

describe('sandboxDns', () => {
  it('gives a ClusterFirst pod the cluster DNS, its search path and ndots:5', () => {
    const expected = { Dns: ['172.17.0.1'], DnsSearch: clusterSearch, DnsOptions: ['ndots:5'] };
    expect(sandboxDns(spec({ dnsPolicy: 'ClusterFirst' }), 'shop', cluster)).toEqual(expected);
    // ClusterFirst is the default.
    expect(sandboxDns(spec(), 'shop', cluster)).toEqual(expected);
  });

  it('uses the given cluster domain', () => {
    expect(sandboxDns(spec(), 'default', { server: '10.0.0.1', domain: 'corp.test' })).toEqual({
      Dns: ['10.0.0.1'],
      DnsSearch: ['default.svc.corp.test', 'svc.corp.test', 'corp.test'],
      DnsOptions: ['ndots:5'],
    });
  });

  it('merges dnsConfig: servers and searches appended without repeats, options override by name', () => {
    const dns = sandboxDns(
      spec({
        dnsConfig: {
          nameservers: ['9.9.9.9', '172.17.0.1', '8.8.8.8', '1.1.1.1'],
          searches: ['corp.example', 'svc.cluster.local'],
          options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }, { name: '' }],
        },
      }),
      'shop',
      cluster,
    );
    expect(dns).toEqual({
      // At most three name servers, as Kubernetes keeps.
      Dns: ['172.17.0.1', '9.9.9.9', '8.8.8.8'],
      DnsSearch: [...clusterSearch, 'corp.example'],
      DnsOptions: ['ndots:2', 'edns0'],
    });
  });

  it('gives a hostNetwork pod with ClusterFirst the host DNS (Default), with its dnsConfig only', () => {
    expect(sandboxDns(spec({ hostNetwork: true }), 'shop', cluster)).toEqual({});
    expect(
      sandboxDns(
        spec({ hostNetwork: true, dnsConfig: { searches: ['corp.example'] } }),
        'shop',
        cluster,
      ),
    ).toEqual({ DnsSearch: ['corp.example'] });
  });

  it('gives the cluster DNS to hostNetwork pods with ClusterFirstWithHostNet', () => {
    expect(
      sandboxDns(
        spec({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }),
        'shop',
        cluster,
      ),
    ).toEqual({ Dns: ['172.17.0.1'], DnsSearch: clusterSearch, DnsOptions: ['ndots:5'] });
    // Without hostNetwork it is ClusterFirst.
    expect(sandboxDns(spec({ dnsPolicy: 'ClusterFirstWithHostNet' }), 'shop', cluster).Dns).toEqual(
      ['172.17.0.1'],
    );
  });

  it('gives None and Default pods only their dnsConfig', () => {
    const dnsConfig = {
      nameservers: ['1.1.1.1'],
      searches: ['a.example'],
      options: [{ name: 'ndots', value: '1' }, { name: 'rotate' }],
    };
    const expected = {
      Dns: ['1.1.1.1'],
      DnsSearch: ['a.example'],
      DnsOptions: ['ndots:1', 'rotate'],
    };
    expect(sandboxDns(spec({ dnsPolicy: 'None', dnsConfig }), 'shop', cluster)).toEqual(expected);
    expect(sandboxDns(spec({ dnsPolicy: 'Default', dnsConfig }), 'shop', cluster)).toEqual(
      expected,
    );
    expect(sandboxDns(spec({ dnsPolicy: 'Default' }), 'shop', cluster)).toEqual({});
  });

  it('without a cluster DNS keeps Docker defaults plus dnsConfig, as before services', () => {
    expect(sandboxDns(spec(), 'shop', undefined)).toEqual({});
    expect(
      sandboxDns(spec({ dnsConfig: { nameservers: ['1.1.1.1'] } }), 'shop', undefined),
    ).toEqual({ Dns: ['1.1.1.1'] });
  });
});
