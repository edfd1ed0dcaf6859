export {
  canonicalName,
  DNS_TTL_SECONDS,
  type DnsLookup,
  type DnsRcode,
  type DnsRecord,
  type DnsRecords,
  dnsRecords,
  EMPTY_HOSTS,
  type HostsTable,
  parseHosts,
  type SoaData,
  type SrvData,
} from './records.js';
export {
  answerMessage,
  type DnsServer,
  type DnsServerOptions,
  startDnsServer,
  UDP_LIMIT,
} from './server.js';
