import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { BerthError } from '../../model/errors.js';
import { CLUSTER_DOMAIN, type ServiceView } from '../../services/types.js';
import {
  type DnsLookup,
  type DnsRecord,
  type DnsRecords,
  dnsRecords,
  EMPTY_HOSTS,
  type HostsTable,
  parseHosts,
} from './records.js';

/**
 * The cluster DNS server an agent runs on the bridge gateway: UDP and TCP on one port, answers
 * from the services of the latest `update` (a table built once per update, so no query does
 * I/O), nothing forwarded anywhere.
 */

export interface DnsServerOptions {
  readonly host: string;
  /** 53 for pods; 0 picks a free port (the same one for UDP and TCP). */
  readonly port: number;
  /** Trouble worth a line (a socket error); queries are not logged. */
  readonly log?: (line: string) => void;
  /** @default 'cluster.local' */
  readonly domain?: string;
  /**
   * Names outside the domain are answered from this hosts file, read once at start (false: none).
   * @default '/etc/hosts'
   */
  readonly hostsFile?: string | false;
  /** What to answer until the first `update`. */
  readonly services?: readonly ServiceView[];
}

export interface DnsServer {
  /** Where it listens (the port is the one bound when 0 was asked). */
  readonly address: { readonly host: string; readonly port: number };
  /** Answers from `services` from now on. */
  update(services: readonly ServiceView[]): void;
  close(): Promise<void>;
}

/** A DNS message over UDP without EDNS: longer answers set TC and the client retries on TCP. */
export const UDP_LIMIT = 512;
/** The most we answer over UDP to a client that offers more with EDNS. */
const EDNS_LIMIT = 1232;
/** A TCP client that sends nothing for this long is let go. */
const TCP_IDLE_MS = 10_000;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const FLAG_AA = 0x400;
const FLAG_TC = 0x200;
const FLAG_RD = 0x100;
const FLAG_RA = 0x80;

const TYPE_CODE = { A: 1, SOA: 6, PTR: 12, AAAA: 28, SRV: 33 } as const;
const TYPE_OPT = 41;
const CLASS_IN = 1;

/**
 * Writes a reply with name compression (RFC 1035 4.1.4; dns-packet writes every name in full,
 * which would fit a third as many addresses in a 512-byte datagram). Records that would pass
 * `limit` are left out and the reply is marked truncated.
 */
class ReplyWriter {
  private readonly buf: Buffer;
  private offset = 0;
  /** Lower-cased name suffixes already written, to their offsets (pointers reach 0x3fff). */
  private readonly names = new Map<string, number>();
  truncated = false;

  constructor(private readonly limit: number) {
    this.buf = Buffer.alloc(limit + 1024);
  }

  get length(): number {
    return this.offset;
  }

  u8(value: number): void {
    this.buf.writeUInt8(value, this.offset);
    this.offset += 1;
  }

  u16(value: number): void {
    this.buf.writeUInt16BE(value, this.offset);
    this.offset += 2;
  }

  u32(value: number): void {
    this.buf.writeUInt32BE(value, this.offset);
    this.offset += 4;
  }

  name(name: string, compress = true): void {
    const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
    const labels = trimmed === '' ? [] : trimmed.split('.');
    for (let index = 0; index < labels.length; index++) {
      const suffix = labels.slice(index).join('.').toLowerCase();
      const at = compress ? this.names.get(suffix) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.offset < 0x4000 && !this.names.has(suffix)) this.names.set(suffix, this.offset);
      const label = Buffer.from(labels[index] ?? '', 'utf8');
      if (label.length === 0 || label.length > 63) throw new Error(`bad label in ${name}`);
      this.u8(label.length);
      label.copy(this.buf, this.offset);
      this.offset += label.length;
    }
    this.u8(0);
  }

  /**
   * Writes one record; false (and nothing written) when it would pass the limit, which marks
   * the reply truncated unless the record is `optional` (RFC 2181 9: authority and additional
   * records may be left out without TC).
   */
  record(record: DnsRecord, optional = false): boolean {
    const start = this.offset;
    this.name(record.name);
    this.u16(TYPE_CODE[record.type]);
    this.u16(CLASS_IN);
    this.u32(record.ttl);
    const lengthAt = this.offset;
    this.u16(0);
    switch (record.type) {
      case 'A':
        for (const part of record.data.split('.')) this.u8(Number(part));
        break;
      case 'AAAA':
        ipv6Bytes(record.data).copy(this.buf, this.offset);
        this.offset += 16;
        break;
      case 'PTR':
        this.name(record.data);
        break;
      case 'SRV':
        this.u16(record.data.priority);
        this.u16(record.data.weight);
        this.u16(record.data.port);
        this.name(record.data.target, false); // RFC 2782: no compression in the target
        break;
      case 'SOA':
        this.name(record.data.mname);
        this.name(record.data.rname);
        this.u32(record.data.serial);
        this.u32(record.data.refresh);
        this.u32(record.data.retry);
        this.u32(record.data.expire);
        this.u32(record.data.minimum);
        break;
    }
    this.buf.writeUInt16BE(this.offset - lengthAt - 2, lengthAt);
    if (this.offset <= this.limit) return true;
    this.offset = start;
    for (const [suffix, at] of this.names) if (at >= start) this.names.delete(suffix);
    if (!optional) this.truncated = true;
    return false;
  }

  /** The EDNS OPT pseudo-record (RFC 6891): our payload size, no options. */
  opt(payloadSize: number): void {
    this.u8(0);
    this.u16(TYPE_OPT);
    this.u16(payloadSize);
    this.u32(0);
    this.u16(0);
  }

  /** Writes `records` while they fit; the count written. */
  records(records: readonly DnsRecord[], optional = false): number {
    let count = 0;
    for (const record of records) {
      if (this.truncated || !this.record(record, optional)) break;
      count++;
    }
    return count;
  }

  patch(at: number, value: number): void {
    this.buf.writeUInt16BE(value, at);
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.offset));
  }
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          // An IPv4 tail (::ffff:192.0.2.1) is the last two groups.
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const middle = new Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0);
  const bytes = Buffer.alloc(16);
  for (const [index, group] of [...left, ...middle, ...right].slice(0, 8).entries()) {
    bytes.writeUInt16BE(group & 0xffff, index * 2);
  }
  return bytes;
}

/** A bare reply to a message whose header could be read: FORMERR, NOTIMP and the like. */
function bareReply(message: Buffer, rcode: number): Buffer {
  const reply = Buffer.alloc(12);
  message.copy(reply, 0, 0, 2);
  const flags = message.readUInt16BE(2);
  // QR, the query's opcode and RD, RA, and the code.
  reply.writeUInt16BE(0x8000 | (flags & 0x7800) | (flags & FLAG_RD) | FLAG_RA | rcode, 2);
  return reply;
}

/**
 * The reply to one DNS message, or undefined when it deserves none (not a query, unreadable).
 * Pure apart from encoding; `transport` decides the size limit (UDP truncates, TCP does not).
 */
export function answerMessage(
  records: DnsRecords,
  message: Buffer,
  transport: 'udp' | 'tcp',
): Buffer | undefined {
  if (message.length < 12) return undefined;
  const flags = message.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response: never answer those (no loops)
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return bareReply(message, RCODE.NOTIMP);
  let query: dnsPacket.DecodedPacket;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return undefined; // malformed: dropped, as a stray datagram would be
  }
  const question = query.questions?.[0];
  if (question === undefined || query.questions?.length !== 1) {
    return bareReply(message, RCODE.FORMERR);
  }
  const opt = query.additionals?.find(
    (record): record is dnsPacket.OptAnswer => record.type === 'OPT',
  );
  const limit =
    transport === 'tcp'
      ? 65_535
      : opt === undefined
        ? UDP_LIMIT
        : Math.min(EDNS_LIMIT, Math.max(UDP_LIMIT, opt.udpPayloadSize));

  const klass = question.class ?? 'IN';
  const lookup: DnsLookup =
    klass === 'IN' || klass === 'ANY'
      ? records.answer(question.name, question.type)
      : { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };

  const replyFlags =
    (lookup.authoritative ? FLAG_AA : 0) | (flags & FLAG_RD) | FLAG_RA | RCODE[lookup.rcode];
  const optLength = opt === undefined ? 0 : 11;
  const writer = new ReplyWriter(limit - optLength);
  writer.u16(query.id ?? 0);
  writer.u16(0x8000 | replyFlags);
  writer.u16(1);
  writer.u16(0); // answers, authorities, additionals: counted below
  writer.u16(0);
  writer.u16(0);
  writer.name(question.name);
  writer.u16(message.readUInt16BE(12 + questionNameLength(message)));
  writer.u16(message.readUInt16BE(14 + questionNameLength(message)));
  const answers = writer.records(lookup.answers);
  // A truncated reply carries only whole records; the client asks again over TCP.
  const authorities = writer.truncated ? 0 : writer.records(lookup.authorities, true);
  const additionals =
    writer.truncated || authorities < lookup.authorities.length
      ? 0
      : writer.records(lookup.additionals, true);
  if (opt !== undefined) writer.opt(EDNS_LIMIT);
  writer.patch(2, 0x8000 | replyFlags | (writer.truncated ? FLAG_TC : 0));
  writer.patch(6, answers);
  writer.patch(8, authorities);
  writer.patch(10, additionals + (opt === undefined ? 0 : 1));
  return writer.done();
}

/** The wire length of the first question's name (labels or a pointer). */
function questionNameLength(message: Buffer): number {
  let offset = 12;
  for (;;) {
    const length = message.readUInt8(offset);
    if (length === 0) return offset + 1 - 12;
    if ((length & 0xc0) === 0xc0) return offset + 2 - 12;
    offset += length + 1;
  }
}

async function readHosts(
  hostsFile: string | false,
  log: (line: string) => void,
): Promise<HostsTable> {
  if (hostsFile === false) return EMPTY_HOSTS;
  try {
    return parseHosts(await readFile(hostsFile, 'utf8'));
  } catch (error) {
    log(
      `dns: cannot read ${hostsFile} (${(error as Error).message}); names outside the cluster are refused`,
    );
    return EMPTY_HOSTS;
  }
}

function listenFailed(host: string, port: number, error: unknown): BerthError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new BerthError(
    'AGENT_LISTEN_FAILED',
    `the DNS server cannot listen on ${host}:${port}: ${code}`,
    {
      hint:
        port === 53
          ? 'another DNS server holds port 53 on that address (systemd-resolved, dnsmasq?), or the agent lacks the right to bind it'
          : 'pick another port',
      cause: error,
    },
  );
}

function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(port, host, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const { host } = options;
  const log = options.log ?? (() => {});
  const domain = options.domain ?? CLUSTER_DOMAIN;
  const hosts = await readHosts(options.hostsFile ?? '/etc/hosts', log);
  let records = dnsRecords(options.services ?? [], domain, hosts);

  const connections = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    connections.add(socket);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const reply = safeAnswer(message, 'tcp');
        if (reply === undefined) {
          // Framing can no longer be trusted after a message that is not a query.
          socket.destroy();
          return;
        }
        const framed = Buffer.alloc(2 + reply.length);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        socket.write(framed);
      }
    });
  });
  tcp.on('error', (error) => log(`dns: tcp: ${error.message}`));

  const safeAnswer = (message: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined => {
    try {
      return answerMessage(records, message, transport);
    } catch (error) {
      // An answer that cannot be encoded is a bug here, not the client's: say so, keep serving.
      log(`dns: cannot answer a ${transport} query: ${(error as Error).message}`);
      return message.length >= 12 ? bareReply(message, RCODE.SERVFAIL) : undefined;
    }
  };

  // One port for both: with port 0, UDP picks it and TCP takes the same (retried if taken).
  let udp: dgram.Socket | undefined;
  for (let attempt = 0; udp === undefined; attempt++) {
    let socket: dgram.Socket;
    try {
      socket = await bindUdp(host, options.port);
    } catch (error) {
      throw listenFailed(host, options.port, error);
    }
    const port = socket.address().port;
    try {
      await listenTcp(tcp, host, port);
      udp = socket;
    } catch (error) {
      socket.close();
      const code = (error as NodeJS.ErrnoException).code;
      if (options.port !== 0 || code !== 'EADDRINUSE' || attempt >= 20) {
        throw listenFailed(host, port, error);
      }
    }
  }
  const port = udp.address().port;
  const socket = udp;
  socket.on('error', (error) => log(`dns: udp: ${error.message}`));
  socket.on('message', (message, remote) => {
    const reply = safeAnswer(message, 'udp');
    if (reply === undefined) return;
    socket.send(reply, remote.port, remote.address, (error) => {
      if (error) log(`dns: cannot answer ${remote.address}:${remote.port}: ${error.message}`);
    });
  });

  let closed: Promise<void> | undefined;
  return {
    address: { host, port },
    update(services: readonly ServiceView[]): void {
      records = dnsRecords(services, domain, hosts);
    },
    close(): Promise<void> {
      closed ??= Promise.all([
        new Promise<void>((resolve) => socket.close(() => resolve())),
        new Promise<void>((resolve) => {
          tcp.close(() => resolve());
          for (const connection of connections) connection.destroy();
        }),
      ]).then(() => undefined);
      return closed;
    },
  };
}
