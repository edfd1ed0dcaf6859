import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { type DnsServer, startDnsServer } from '../../../operator/agent/dns/server.js';
import type { ServiceView } from '../../../operator/services/types.js';
import { waitFor } from '../../helpers/wait.js';

const web: ServiceView = {
  namespace: 'default',
  name: 'web',
  type: 'ClusterIP',
  clusterIP: '10.96.0.10',
  sessionAffinity: 'None',
  ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  endpoints: [],
};

/** A headless service with enough endpoints that its A answer passes 512 bytes. */
const big: ServiceView = {
  namespace: 'default',
  name: 'big',
  type: 'ClusterIP',
  sessionAffinity: 'None',
  ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  endpoints: Array.from({ length: 60 }, (_, index) => ({
    ip: `172.17.1.${index + 1}`,
    pod: `default/big-${index}`,
    node: 'node-1',
    ports: { http: 8080 },
  })),
};

let server: DnsServer | undefined;
const sockets: { close(): void }[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await server?.close();
  server = undefined;
});

async function start(services: readonly ServiceView[]): Promise<DnsServer> {
  server = await startDnsServer({ host: '127.0.0.1', port: 0, hostsFile: false, services });
  return server;
}

function query(name: string, type: dnsPacket.RecordType, id = 4242, edns?: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals:
      edns === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: edns,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  });
}

interface Reply {
  readonly raw: Buffer;
  readonly packet: dnsPacket.DecodedPacket & { rcode?: string };
}

function udpSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket)));
}

/** Sends datagrams and resolves with the first reply (or rejects after `ms`). */
async function udpAsk(port: number, ...messages: Buffer[]): Promise<Reply> {
  const socket = await udpSocket();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no UDP reply')), 3000);
    socket.once('message', (raw) => {
      clearTimeout(timer);
      resolve({ raw, packet: dnsPacket.decode(raw) });
    });
    for (const message of messages) socket.send(message, port, '127.0.0.1');
  });
}

/** One TCP connection: sends the framed messages, resolves with `count` replies. */
function tcpAsk(port: number, count: number, ...messages: Buffer[]): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push({ close: () => socket.destroy() });
    const replies: Reply[] = [];
    let pending = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('close', () =>
      reject(new Error(`connection closed after ${replies.length} replies`)),
    );
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const raw = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + raw.length);
        replies.push({ raw, packet: dnsPacket.decode(raw) });
        if (replies.length === count) {
          socket.removeAllListeners('close');
          socket.destroy();
          resolve(replies);
        }
      }
    });
    for (const message of messages) {
      const framed = Buffer.alloc(2 + message.length);
      framed.writeUInt16BE(message.length, 0);
      message.copy(framed, 2);
      socket.write(framed);
    }
  });
}

function addresses(reply: Reply): string[] {
  return (reply.packet.answers ?? []).flatMap((answer) =>
    answer.type === 'A' ? [answer.data] : [],
  );
}

describe('startDnsServer', () => {
  it('answers over UDP and TCP on the same port', async () => {
    const { address } = await start([web]);
    expect(address.host).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);

    const udp = await udpAsk(address.port, query('web.default.svc.cluster.local', 'A', 7));
    expect(udp.packet).toMatchObject({ id: 7, type: 'response', rcode: 'NOERROR', flag_aa: true });
    expect(udp.packet.flag_rd).toBe(true);
    expect(udp.packet.questions).toEqual([
      { name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' },
    ]);
    expect(udp.packet.answers).toEqual([
      {
        name: 'web.default.svc.cluster.local',
        type: 'A',
        class: 'IN',
        ttl: 5,
        flush: false,
        data: '10.96.0.10',
      },
    ]);

    const [a, srv, miss] = await tcpAsk(
      address.port,
      3,
      query('web.default.svc.cluster.local', 'A', 1),
      query('_http._tcp.web.default.svc.cluster.local', 'SRV', 2),
      query('nope.default.svc.cluster.local', 'A', 3),
    );
    expect(a && addresses(a)).toEqual(['10.96.0.10']);
    expect(srv?.packet.answers?.[0]).toMatchObject({
      type: 'SRV',
      data: { port: 80, target: 'web.default.svc.cluster.local' },
    });
    expect(srv?.packet.additionals?.[0]).toMatchObject({ type: 'A', data: '10.96.0.10' });
    expect(miss?.packet).toMatchObject({ id: 3, rcode: 'NXDOMAIN' });
    expect(miss?.packet.authorities?.[0]?.type).toBe('SOA');
  });

  it('answers PTR for cluster addresses', async () => {
    const { address } = await start([web]);
    const reply = await udpAsk(address.port, query('10.0.96.10.in-addr.arpa', 'PTR'));
    expect(reply.packet.answers).toMatchObject([
      { type: 'PTR', name: '10.0.96.10.in-addr.arpa', data: 'web.default.svc.cluster.local' },
    ]);
  });

  it('refuses names outside the cluster (nothing is forwarded)', async () => {
    const { address } = await start([web]);
    const reply = await udpAsk(address.port, query('example.com', 'A'));
    expect(reply.packet).toMatchObject({ rcode: 'REFUSED', flag_aa: false, answers: [] });
  });

  it('answers from the latest update', async () => {
    const dns = await start([web]);
    dns.update([{ ...web, clusterIP: '10.96.0.99' }, big]);
    const moved = await udpAsk(dns.address.port, query('web.default.svc.cluster.local', 'A'));
    expect(addresses(moved)).toEqual(['10.96.0.99']);
    dns.update([]);
    const gone = await udpAsk(dns.address.port, query('web.default.svc.cluster.local', 'A'));
    expect(gone.packet.rcode).toBe('NXDOMAIN');
  });

  it('sets TC on UDP answers over 512 bytes and gives them whole over TCP', async () => {
    const { address } = await start([big]);
    const udp = await udpAsk(address.port, query('big.default.svc.cluster.local', 'A', 9));
    expect(udp.raw.length).toBeLessThanOrEqual(512);
    expect(udp.packet).toMatchObject({ id: 9, flag_tc: true, rcode: 'NOERROR' });
    // Whole records only, as many as fit: names are compressed, so about 29 addresses.
    expect(addresses(udp)).toEqual(big.endpoints.slice(0, addresses(udp).length).map((e) => e.ip));
    expect(addresses(udp).length).toBeGreaterThanOrEqual(25);
    expect(addresses(udp).length).toBeLessThan(60);

    const [tcp] = await tcpAsk(address.port, 1, query('big.default.svc.cluster.local', 'A', 9));
    expect(tcp?.raw.length).toBeGreaterThan(512);
    expect(tcp?.packet.flag_tc).toBe(false);
    expect(tcp && addresses(tcp)).toHaveLength(60);

    // A client offering a larger datagram with EDNS still gets at most 1232 bytes.
    const edns = await udpAsk(address.port, query('big.default.svc.cluster.local', 'A', 10, 4096));
    expect(edns.raw.length).toBeLessThanOrEqual(1232);
    expect(edns.packet.flag_tc).toBe(false);
    expect(addresses(edns)).toHaveLength(60);
    expect(edns.packet.additionals?.some((record) => record.type === 'OPT')).toBe(true);
  });

  it('leaves out additional records that do not fit without setting TC', async () => {
    const seven = { ...big, name: 'seven', endpoints: big.endpoints.slice(0, 7) };
    const { address } = await start([seven]);
    const reply = await udpAsk(
      address.port,
      query('_http._tcp.seven.default.svc.cluster.local', 'SRV'),
    );
    expect(reply.raw.length).toBeLessThanOrEqual(512);
    expect(reply.packet.flag_tc).toBe(false);
    expect(reply.packet.answers).toHaveLength(7);
    expect(reply.packet.answers?.[0]).toMatchObject({
      type: 'SRV',
      data: { port: 8080, target: '172-17-1-1.seven.default.svc.cluster.local' },
    });
    expect(reply.packet.additionals?.length).toBeGreaterThan(0);
    expect(reply.packet.additionals?.length).toBeLessThan(7);
  });

  it('drops malformed datagrams and keeps answering', async () => {
    const { address } = await start([web]);
    const valid = query('web.default.svc.cluster.local', 'A', 11);
    const other = query('web.default.svc.cluster.local', 'A', 99);
    const garbage = [
      Buffer.alloc(0),
      Buffer.from('hello'),
      Buffer.from([0, 99, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]), // pointer loop
      other.subarray(0, 20), // cut short
      Buffer.from(other).fill(0xff, 12), // labels of nonsense
      dnsPacket.encode({ type: 'response', id: 11, questions: [{ type: 'A', name: 'x' }] }),
      // Flipped bits past the id: some still decode (and get some answer), none may crash it.
      ...Array.from({ length: 50 }, (_, index) => {
        const noise = Buffer.from(other);
        const at = 2 + (index % (noise.length - 2));
        noise[at] = (noise[at] ?? 0) ^ (0x5a + index);
        return noise;
      }),
    ];
    const replies: Reply[] = [];
    const socket = await udpSocket();
    socket.on('message', (raw) => {
      const packet = dnsPacket.decode(raw);
      if (packet.id === 11) replies.push({ raw, packet });
    });
    for (const message of garbage) socket.send(message, address.port, '127.0.0.1');
    socket.send(valid, address.port, '127.0.0.1');
    await waitFor(() => replies.length > 0, 'the reply to the valid query', 3000);
    expect(replies.map(addresses)).toEqual([['10.96.0.10']]);

    // TCP: a malformed message ends that connection; the server keeps serving others.
    await expect(tcpAsk(address.port, 1, valid.subarray(0, 20))).rejects.toThrow(
      /closed after 0 replies/,
    );
    const [after] = await tcpAsk(address.port, 1, valid);
    expect(after && addresses(after)).toEqual(['10.96.0.10']);
  });

  it('answers other opcodes with NOTIMP and several questions with FORMERR', async () => {
    const { address } = await start([web]);
    const notify = Buffer.from(query('web.default.svc.cluster.local', 'A', 21));
    notify.writeUInt16BE(notify.readUInt16BE(2) | (4 << 11), 2);
    const notimp = await udpAsk(address.port, notify);
    expect(notimp.packet).toMatchObject({ id: 21, rcode: 'NOTIMP' });

    const two = dnsPacket.encode({
      type: 'query',
      id: 22,
      questions: [
        { type: 'A', name: 'web.default.svc.cluster.local' },
        { type: 'A', name: 'web.default.svc.cluster.local' },
      ],
    });
    const formerr = await udpAsk(address.port, two);
    expect(formerr.packet).toMatchObject({ id: 22, rcode: 'FORMERR' });
  });

  it('fails with a BerthError naming the address when the port is taken', async () => {
    const first = await start([]);
    await expect(
      startDnsServer({ host: '127.0.0.1', port: first.address.port, hostsFile: false }),
    ).rejects.toMatchObject({ code: 'AGENT_LISTEN_FAILED' });
  });

  it('answers names outside the cluster from the hosts file', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'berth-dns-'));
    try {
      const hostsFile = join(dir, 'hosts');
      await writeFile(
        hostsFile,
        '192.168.7.7 registry.local registry\nfd00::7 registry\n::ffff:192.0.2.1 mapped\n',
      );
      server = await startDnsServer({ host: '127.0.0.1', port: 0, hostsFile });
      const reply = await udpAsk(server.address.port, query('registry', 'A'));
      expect(reply.packet).toMatchObject({ rcode: 'NOERROR', flag_aa: false });
      expect(addresses(reply)).toEqual(['192.168.7.7']);
      const v6 = await udpAsk(server.address.port, query('registry', 'AAAA'));
      expect(v6.packet.answers).toMatchObject([{ type: 'AAAA', data: 'fd00::7' }]);
      const mapped = await udpAsk(server.address.port, query('mapped', 'AAAA'));
      expect(mapped.packet.answers).toMatchObject([{ type: 'AAAA', data: '::ffff:c000:201' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
