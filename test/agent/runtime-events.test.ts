import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import type { RuntimeEvent } from '../../operator/agent/runtime.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { DEFAULT_DOCKER_SOCKET, docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { makeTempDir } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The event stream survives the engine going away: the runtime talks to dockerd through a
 * unix-socket relay the test can cut (as a dockerd restart does) and hold shut for a while.
 * Events that happen while it is cut arrive after the reconnection.
 */

interface SocketRelay {
  readonly path: string;
  /** Ends every open connection; with `refuse`, new ones are closed at once until `allow()`. */
  cut(refuse: boolean): void;
  allow(): void;
  /** New connections are accepted and never answered (a hung engine) until `allow()`. */
  hold(): void;
  readonly connections: number;
  /** Connections closed at once while refusing. */
  readonly refused: number;
  close(): Promise<void>;
}

async function startRelay(path: string, target: string): Promise<SocketRelay> {
  const open = new Set<Socket>();
  let refusing = false;
  let holding = false;
  const held = new Set<Socket>();
  let connections = 0;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (holding) {
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    if (refusing) {
      refused += 1;
      client.destroy();
      return;
    }
    connections += 1;
    const upstream = createConnection(target);
    open.add(client);
    open.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    cut(refuse) {
      refusing = refuse;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    allow() {
      refusing = false;
      holding = false;
      for (const socket of held) socket.destroy();
      held.clear();
    },
    hold() {
      holding = true;
    },
    get connections() {
      return connections;
    },
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of [...open, ...held]) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const node = uniqueTestName('test-node');
const direct = createDockerRuntime();
let relayed: DockerRuntime;
let relay: SocketRelay;
let temp: { path: string; remove(): void };

beforeAll(async () => {
  await ensureTestImage(docker());
  temp = makeTempDir('docker-relay');
  relay = await startRelay(
    join(temp.path, 'docker.sock'),
    process.env.DOCKER_HOST?.startsWith('unix://')
      ? process.env.DOCKER_HOST.slice(7)
      : DEFAULT_DOCKER_SOCKET,
  );
  relayed = createDockerRuntime({ socketPath: relay.path });
});

afterAll(async () => {
  for (const container of await direct.list(node)) await direct.remove(container.id);
  await relay?.close();
  temp?.remove();
});

function makePod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: uniqueTestName('ev'), namespace: 'default', uid: randomUUID() },
    spec: { containers: [{ name: 'main', image: TEST_IMAGE, command: ['sleep', '3600'] }] },
  };
}

async function startContainer(pod: Pod): Promise<string> {
  const sandbox = await direct.createSandbox(pod, node);
  const id = await direct.createContainer({
    pod,
    node,
    sandbox,
    containerIndex: 0,
    specHash: 'h',
    restartCount: 0,
    volumes: new Map(),
  });
  await direct.start(id);
  return id;
}

describe('runtime events', () => {
  it('reconnects after the stream is cut and delivers what happened meanwhile', async () => {
    const events: RuntimeEvent[] = [];
    const unsubscribe = relayed.events(node, (event) => events.push(event));
    try {
      const first = await startContainer(makePod());
      await waitFor(
        () => events.some((e) => e.containerId === first && e.action === 'start'),
        'first start',
      );
      const connectionsBefore = relay.connections;

      // The engine "goes away": the stream is cut and reconnections are refused for a while.
      relay.cut(true);
      const second = await startContainer(makePod());
      // Several reconnection attempts fail against the closed relay (backoff, no crash).
      await waitFor(() => relay.refused >= 2, 'reconnection attempts');
      expect(events.some((e) => e.containerId === second)).toBe(false);
      relay.allow();

      await waitFor(
        () => events.some((e) => e.containerId === second && e.action === 'start'),
        'second start',
      );
      expect(relay.connections).toBeGreaterThan(connectionsBefore);
      expect(events.find((e) => e.containerId === second)?.labels['io.berth.node']).toBe(node);
    } finally {
      unsubscribe();
    }
  });

  it('stops delivering and reconnecting after unsubscribe', async () => {
    const events: RuntimeEvent[] = [];
    const witnessed: RuntimeEvent[] = [];
    const unsubscribe = relayed.events(node, (event) => events.push(event));
    const unsubscribeWitness = direct.events(node, (event) => witnessed.push(event));
    try {
      const first = await startContainer(makePod());
      await waitFor(
        () => events.some((e) => e.containerId === first && e.action === 'start'),
        'start',
      );
      unsubscribe();
      const connections = relay.connections;
      const second = await startContainer(makePod());
      // A subscription still open sees the later start; the closed one must not.
      await waitFor(
        () => witnessed.some((e) => e.containerId === second && e.action === 'start'),
        'the witness to see the second start',
      );
      expect(events.some((e) => e.containerId === second)).toBe(false);
      expect(relay.connections).toBe(connections);
    } finally {
      unsubscribe();
      unsubscribeWitness();
    }
  });

  it('fails engine calls at their deadline when the engine does not answer', async () => {
    const impatient = createDockerRuntime({ socketPath: relay.path, callTimeoutMs: 300 });
    relay.hold();
    try {
      const started = Date.now();
      const failures = await Promise.all([
        impatient.list(node).then(
          () => undefined,
          (error: unknown) => error,
        ),
        impatient.remove('no-such-container').then(
          () => undefined,
          (error: unknown) => error,
        ),
        impatient.hasImage(TEST_IMAGE).then(
          () => undefined,
          (error: unknown) => error,
        ),
      ]);
      for (const failure of failures) {
        expect(failure).toMatchObject({ code: 'RUNTIME_ENGINE_FAILED' });
        expect((failure as Error).message).toMatch(/did not answer in time/);
      }
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      relay.allow();
    }
    // The same runtime works again once the engine answers.
    expect(Array.isArray(await impatient.list(node))).toBe(true);
  });
});
