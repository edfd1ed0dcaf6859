/**
 * Candidate values for `Store.allocate`: the node port range and the cluster IPs of a CIDR, in
 * order. Generators, so a large range costs nothing until it is walked.
 */

import { formatIPv4, parseIPv4 } from '../model/ipv4.js';

/** Kubernetes' default node port range. */
export const DEFAULT_NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

export function* nodePortCandidates(
  range: { readonly min: number; readonly max: number } = DEFAULT_NODE_PORT_RANGE,
): Generator<string> {
  for (let port = range.min; port <= range.max; port++) yield String(port);
}

/**
 * The usable addresses of an IPv4 CIDR (`10.96.0.0/16`): without the network and broadcast
 * addresses, and without the first host, which Kubernetes keeps for the API service.
 */
export function* clusterIPCandidates(cidr: string): Generator<string> {
  const [address, bitsText] = cidr.split('/');
  const base = address === undefined ? undefined : parseIPv4(address);
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 8 || bits > 30) {
    throw new RangeError(`not an IPv4 CIDR from /8 to /30: ${cidr}`);
  }
  const size = 2 ** (32 - bits);
  const network = base - (base % size);
  for (let offset = 2; offset < size - 1; offset++) yield formatIPv4(network + offset);
}
