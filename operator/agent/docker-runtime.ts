/**
 * The runtime port (runtime.ts) on a real Docker Engine, through dockerode: the only file in
 * berth that imports it. A pod is a sandbox container (`berth/pause:1`, made locally by
 * images.ts) holding the network namespace, hostname, IPC and host ports, plus one container
 * per spec container joined to it (`NetworkMode: container:<sandbox>`), so the pod's IP
 * survives any container's re-creation. Nothing restarts at the Docker level: the agent
 * decides. All identity is in labels (LABELS), so `list` rebuilds the agent's view alone.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import Dockerode from 'dockerode';
import { BerthError } from '../model/errors.js';
import type { Container, Pod, PodSpec } from '../model/generated/types.js';
import { isQuantityError, parseQuantity, toBytes, toMillis } from '../model/quantity.js';
import { CLUSTER_DOMAIN } from '../services/types.js';
import {
  ensureHelperImage,
  type HelperImage,
  type ImageImporter,
  PAUSE_IMAGE,
  pauseImage,
} from './images.js';
import { resolveCommandLine, resolveContainerEnv } from './pod-env.js';
import {
  type ContainerRuntime,
  type CreateContainerRequest,
  containerNamePrefix,
  type ExecResult,
  type ImagePullResult,
  LABELS,
  type ObservedContainer,
  type RuntimeEvent,
} from './runtime.js';
import type { VolumeEngine } from './volumes.js';

export interface DockerRuntimeOptions {
  /** @default DOCKER_HOST (unix:// or tcp://), else /var/run/docker.sock */
  readonly socketPath?: string;
  /** status.hostIP given to pods. @default the gateway of Docker's default bridge */
  readonly hostIP?: string;
  /** Deadline of one image pull. @default 600000 */
  readonly pullTimeoutMs?: number;
  /** Static busybox the pause image is made from. @default /bin/busybox */
  readonly busyboxPath?: string;
  /**
   * Deadline of one engine call (list, inspect, create, start, remove...): a hung dockerd
   * fails calls instead of hanging the agent. stop adds the grace to it. @default 60000
   */
  readonly callTimeoutMs?: number;
  /**
   * The cluster DNS pods with dnsPolicy ClusterFirst get (see sandboxDns). Absent: pods get
   * Docker's DNS plus their dnsConfig, as before services.
   */
  readonly clusterDns?: ClusterDns;
}

export interface ClusterDns {
  /** The name server's address. @default the gateway of Docker's default bridge */
  readonly server?: string;
  /** @default 'cluster.local' */
  readonly domain?: string;
}

/** What a sandbox's HostConfig says about DNS (each absent: Docker's default). */
export interface SandboxDns {
  readonly Dns?: string[];
  readonly DnsSearch?: string[];
  readonly DnsOptions?: string[];
}

/** The runtime port plus the engine sides of volumes and helper images. */
export interface DockerRuntime extends ContainerRuntime, VolumeEngine, ImageImporter {
  /** Makes sure `berth/pause:1` exists (createSandbox calls it too). */
  ensurePauseImage(): Promise<void>;
  /** The status.hostIP pods get (options.hostIP, else the default bridge's gateway). */
  hostIP(): Promise<string>;
  /**
   * The gateway address of Docker's default bridge, where pods reach this host (the cluster
   * DNS server listens there). Throws RUNTIME_ENGINE_FAILED when the engine does not say.
   */
  bridgeGateway(): Promise<string>;
}

const OWNER = 'berth';
const INSPECT_CONCURRENCY = 16;
const EVENT_BACKOFF_MIN_MS = 100;
const EVENT_BACKOFF_MAX_MS = 5_000;
const EVENT_ACTIONS = new Set([
  'start',
  'die',
  'destroy',
  'oom',
  'kill',
  'stop',
  'create',
  'rename',
]);
const CONTAINER_STATES = new Set([
  'created',
  'running',
  'paused',
  'restarting',
  'exited',
  'dead',
  'removing',
]);

export function createDockerRuntime(options: DockerRuntimeOptions = {}): DockerRuntime {
  const docker = new Dockerode(connectionOptions(options.socketPath));
  const callTimeoutMs = options.callTimeoutMs ?? 60_000;
  /** dockerode takes the signal next to the call's options and aborts the HTTP request. */
  const deadline = (extraMs = 0) => ({ abortSignal: AbortSignal.timeout(callTimeoutMs + extraMs) });
  /** For the calls whose dockerode method forwards no signal: the answer stops being awaited. */
  const race = <T>(call: Promise<T>): Promise<T> => withDeadline(call, callTimeoutMs);
  let pauseReady: Promise<void> | undefined;
  let hostIP: Promise<string> | undefined;
  let gateway: Promise<string> | undefined;

  const importer: ImageImporter = {
    async imageComment(name) {
      try {
        return (await race(docker.getImage(name).inspect())).Comment;
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw engineError(`inspecting image ${name}`, error);
      }
    },
    async importImage(name, archive, changes, comment) {
      const { repo, tag } = splitImageName(name);
      try {
        const progress = await docker.importImage(Readable.from([archive]), {
          repo,
          tag,
          message: comment,
          changes: [...changes],
        });
        await new Promise<void>((resolve, reject) => {
          docker.modem.followProgress(progress, (error: Error | null) =>
            error === null ? resolve() : reject(error),
          );
        });
      } catch (error) {
        throw engineError(`importing ${name}`, error);
      }
    },
  };

  function ensurePauseImage(): Promise<void> {
    // One import per runtime at a time; a failure is forgotten so the next call retries.
    pauseReady ??= pauseImage(options.busyboxPath)
      .then((image: HelperImage) =>
        // Bounded so a hung engine is not remembered as a pending import forever.
        withDeadline(ensureHelperImage(importer, PAUSE_IMAGE, image), 2 * callTimeoutMs),
      )
      .catch((error: unknown) => {
        pauseReady = undefined;
        throw engineError(`making ${PAUSE_IMAGE}`, error);
      });
    return pauseReady;
  }

  function resolveHostIP(): Promise<string> {
    if (options.hostIP !== undefined) return Promise.resolve(options.hostIP);
    hostIP ??= bridgeGateway().catch(() => {
      hostIP = undefined;
      return '127.0.0.1';
    });
    return hostIP;
  }

  /** Read once; a failure is forgotten so the next call asks the engine again. */
  function bridgeGateway(): Promise<string> {
    gateway ??= race(docker.getNetwork('bridge').inspect())
      .then((network: { IPAM?: { Config?: { Gateway?: string }[] } }) => {
        const found = network.IPAM?.Config?.find((config) => config.Gateway)?.Gateway;
        if (found === undefined || found === '')
          throw new Error('the bridge network has no gateway');
        return found;
      })
      .catch((error: unknown) => {
        gateway = undefined;
        throw engineError("reading the gateway of Docker's default bridge", error);
      });
    return gateway;
  }

  /** The cluster DNS with its server filled in, or undefined when pods get none. */
  async function resolveClusterDns(): Promise<Required<ClusterDns> | undefined> {
    const cluster = options.clusterDns;
    if (cluster === undefined) return undefined;
    return {
      server: cluster.server ?? (await bridgeGateway()),
      domain: cluster.domain ?? CLUSTER_DOMAIN,
    };
  }

  async function inspectObserved(id: string): Promise<ObservedContainer | undefined> {
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await docker.getContainer(id).inspect(deadline());
    } catch (error) {
      // Removed between list and inspect: it is simply not there any more.
      if (statusCode(error) === 404) return undefined;
      throw engineError(`inspecting container ${id}`, error);
    }
    const observed = observedFromInspect(info);
    if (observed.role !== 'sandbox' || observed.state !== 'running') return observed;
    const ip =
      info.HostConfig.NetworkMode === 'host'
        ? await resolveHostIP()
        : info.NetworkSettings.Networks.bridge?.IPAddress;
    return ip === undefined || ip === '' ? observed : { ...observed, ip };
  }

  const runtime: DockerRuntime = {
    ...importer,
    ensurePauseImage,
    hostIP: resolveHostIP,
    bridgeGateway,

    async list(node) {
      let summaries: Dockerode.ContainerInfo[];
      try {
        summaries = await docker.listContainers({
          all: true,
          filters: { label: [`${LABELS.node}=${node}`, `${LABELS.owner}=${OWNER}`] },
          ...deadline(),
        });
      } catch (error) {
        throw engineError('listing containers', error);
      }
      const observed = await mapLimited(summaries, INSPECT_CONCURRENCY, (summary) =>
        inspectObserved(summary.Id),
      );
      return observed.filter((item): item is ObservedContainer => item !== undefined);
    },

    async hasImage(image) {
      try {
        await race(docker.getImage(image).inspect());
        return true;
      } catch (error) {
        if (statusCode(error) === 404) return false;
        throw engineError(`inspecting image ${image}`, error);
      }
    },

    pull(image) {
      return pullImage(docker, image, options.pullTimeoutMs ?? 600_000);
    },

    async createSandbox(pod, node) {
      await ensurePauseImage();
      const create = sandboxConfig(pod, node, await resolveClusterDns());
      const hostNetwork = pod.spec.hostNetwork === true;
      let id: string | undefined;
      try {
        let container: Dockerode.Container;
        try {
          container = await docker.createContainer({ ...create, ...deadline() });
        } catch (error) {
          if (statusCode(error) !== 404) throw error;
          // The pause image went away after this runtime made it (an image prune): again.
          pauseReady = undefined;
          await ensurePauseImage();
          container = await docker.createContainer({ ...create, ...deadline() });
        }
        id = container.id;
        await container.start(deadline());
        // A host-network pod's IP is the host's, as in Kubernetes.
        if (hostNetwork) return { id, ip: await resolveHostIP() };
        const info = await container.inspect(deadline());
        const ip = info.NetworkSettings.Networks.bridge?.IPAddress ?? '';
        if (ip === '') throw new Error('the sandbox has no IP on the default bridge');
        return { id, ip };
      } catch (error) {
        // A sandbox that did not start (e.g. a host port taken) holds nothing worth keeping.
        if (id !== undefined) await removeQuietly(docker, id);
        throw new BerthError(
          'RUNTIME_SANDBOX_FAILED',
          `pod ${podKey(pod)}: sandbox did not start: ${engineMessage(error)}`,
          { retry: true, cause: error },
        );
      }
    },

    async createContainer(request) {
      const create = await containerConfig(request, await resolveHostIP(), async (image) => {
        try {
          return (await race(docker.getImage(image).inspect())).Config.User ?? '';
        } catch (error) {
          throw engineError(`inspecting image ${image}`, error);
        }
      });
      try {
        const container = await docker.createContainer({ ...create, ...deadline() });
        return container.id;
      } catch (error) {
        const spec = request.pod.spec.containers[request.containerIndex];
        throw engineError(`pod ${podKey(request.pod)} container ${spec?.name}: create`, error);
      }
    },

    async start(containerId) {
      try {
        await docker.getContainer(containerId).start(deadline());
      } catch (error) {
        // 304: already running.
        if (statusCode(error) === 304) return;
        throw engineError(`starting ${containerId}`, error);
      }
    },

    async stop(containerId, graceSeconds) {
      try {
        // Docker's stop sends the stop signal (SIGTERM), waits t seconds, then SIGKILLs.
        const seconds = Math.max(0, Math.ceil(graceSeconds));
        await docker.getContainer(containerId).stop({ t: seconds, ...deadline(seconds * 1000) });
      } catch (error) {
        const status = statusCode(error);
        if (status === 304 || status === 404) return;
        throw engineError(`stopping ${containerId}`, error);
      }
    },

    async remove(containerId) {
      try {
        await docker.getContainer(containerId).remove({ force: true, v: true, ...deadline() });
      } catch (error) {
        const status = statusCode(error);
        // 409: a removal is already in progress.
        if (status === 404 || status === 409) return;
        throw engineError(`removing ${containerId}`, error);
      }
    },

    async rename(containerId, name) {
      try {
        await docker.getContainer(containerId).rename({ name, ...deadline() });
      } catch (error) {
        throw engineError(`renaming ${containerId} to ${name}`, error);
      }
    },

    exec(containerId, command, timeoutMs) {
      return execIn(docker, containerId, command, timeoutMs);
    },

    events(node, onEvent) {
      return subscribeEvents(docker, node, onEvent);
    },

    async logs(containerId, logOptions) {
      const container = docker.getContainer(containerId);
      let tty: boolean;
      try {
        tty = (await container.inspect(deadline())).Config.Tty;
      } catch (error) {
        throw engineError(`logs of ${containerId}`, error);
      }
      const base: Dockerode.ContainerLogsOptions = { stdout: true, stderr: true };
      if (logOptions.tail !== undefined) base.tail = logOptions.tail;
      try {
        if (!logOptions.follow) {
          const raw = await container.logs({ ...base, follow: false });
          const text = tty ? raw : demuxAll(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
          return Readable.from([text]);
        }
        const source = (await container.logs({ ...base, follow: true })) as Readable;
        if (tty) return source;
        const demuxer = new DockerStreamDemuxer();
        source.on('error', (error) => demuxer.destroy(error));
        // The consumer going away stops the engine stream too.
        demuxer.on('close', () => source.destroy());
        return source.pipe(demuxer);
      } catch (error) {
        throw engineError(`logs of ${containerId}`, error);
      }
    },

    async capacity() {
      try {
        const info = await race(docker.info());
        return { cpu: Number(info.NCPU), memoryBytes: Number(info.MemTotal) };
      } catch (error) {
        throw engineError('docker info', error);
      }
    },

    async createTmpfsVolume(request) {
      const driverOptions: Record<string, string> = { type: 'tmpfs', device: 'tmpfs' };
      if (request.sizeBytes !== undefined) driverOptions.o = `size=${request.sizeBytes}`;
      try {
        await docker.createVolume({
          Name: request.name,
          Driver: 'local',
          DriverOpts: driverOptions,
          Labels: {
            [LABELS.podUid]: request.podUid,
            [LABELS.node]: request.node,
            [LABELS.owner]: OWNER,
          },
          ...deadline(),
        });
      } catch (error) {
        throw engineError(`creating volume ${request.name}`, error);
      }
    },

    async removePodVolumes(podUid, node) {
      let listed: { Volumes: Dockerode.VolumeInspectInfo[] | null };
      try {
        listed = await docker.listVolumes({
          filters: { label: [`${LABELS.podUid}=${podUid}`, `${LABELS.node}=${node}`] },
          ...deadline(),
        });
      } catch (error) {
        throw engineError('listing volumes', error);
      }
      for (const volume of listed.Volumes ?? []) {
        try {
          await docker.getVolume(volume.Name).remove(deadline());
        } catch (error) {
          if (statusCode(error) !== 404) throw engineError(`removing volume ${volume.Name}`, error);
        }
      }
    },
  };
  return runtime;
}

/**
 * Where the Docker Engine answers: the given socket, else DOCKER_HOST (unix:// or tcp://) as
 * the docker CLI reads it, else the default socket.
 */
export function connectionOptions(
  socketPath: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Dockerode.DockerOptions {
  if (socketPath !== undefined) return { socketPath };
  const host = env.DOCKER_HOST;
  if (host === undefined || host === '') return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('tcp://')) {
    const url = new URL(`http://${host.slice('tcp://'.length)}`);
    return {
      protocol: 'http',
      host: url.hostname,
      port: url.port === '' ? 2375 : Number(url.port),
    };
  }
  throw new BerthError(
    'RUNTIME_ENGINE_FAILED',
    `DOCKER_HOST must be unix:// or tcp://, got ${host}`,
  );
}

// --- containers --------------------------------------------------------------------------

function podKey(pod: Pod): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
}

function podLabels(pod: Pod, node: string, role: 'sandbox' | 'container'): Record<string, string> {
  return {
    [LABELS.podName]: pod.metadata.name ?? '',
    [LABELS.podNamespace]: pod.metadata.namespace ?? 'default',
    [LABELS.podUid]: pod.metadata.uid ?? '',
    [LABELS.role]: role,
    [LABELS.node]: node,
    [LABELS.owner]: OWNER,
  };
}

/** `berth_<container>_<pod>_<namespace>_<node>_<random>`: readable in `docker ps`, never clashing. */
function containerName(pod: Pod, node: string, container: string): string {
  const prefix = containerNamePrefix(
    container,
    pod.metadata.name ?? '',
    pod.metadata.namespace ?? 'default',
    node,
  );
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** spec.hostname, else the pod name; Kubernetes cuts it at 63 bytes (Linux allows 64). */
function hostnameOf(pod: Pod): string {
  const name = pod.spec.hostname || pod.metadata.name || 'pod';
  return name.slice(0, 63).replace(/[-.]+$/, '');
}

/**
 * The sandbox holds what the pod's containers share: network (bridge, or the host's),
 * hostname, /etc/hosts and DNS, IPC, namespaced sysctls and the host ports.
 */
function sandboxConfig(
  pod: Pod,
  node: string,
  clusterDns: Required<ClusterDns> | undefined,
): Dockerode.ContainerCreateOptions {
  const spec = pod.spec;
  const hostNetwork = spec.hostNetwork === true;
  const { exposedPorts, portBindings } = hostPorts(pod);
  const hostConfig: Dockerode.HostConfig = {
    NetworkMode: hostNetwork ? 'host' : 'bridge',
    IpcMode: spec.hostIPC === true ? 'host' : 'shareable',
    RestartPolicy: { Name: 'no' },
  };
  if (!hostNetwork) hostConfig.PortBindings = portBindings;
  const extraHosts = (spec.hostAliases ?? []).flatMap((alias) =>
    (alias.hostnames ?? []).map((hostname) => `${hostname}:${alias.ip}`),
  );
  if (extraHosts.length > 0) hostConfig.ExtraHosts = extraHosts;
  Object.assign(hostConfig, sandboxDns(spec, pod.metadata.namespace ?? 'default', clusterDns));
  const sysctls = spec.securityContext?.sysctls ?? [];
  if (sysctls.length > 0) {
    hostConfig.Sysctls = Object.fromEntries(sysctls.map((sysctl) => [sysctl.name, sysctl.value]));
  }
  const create: Dockerode.ContainerCreateOptions = {
    name: containerName(pod, node, 'sandbox'),
    Image: PAUSE_IMAGE,
    Labels: podLabels(pod, node, 'sandbox'),
    HostConfig: hostConfig,
  };
  // Docker refuses a hostname of its own next to the host's network.
  if (!hostNetwork) {
    create.Hostname = hostnameOf(pod);
    create.ExposedPorts = exposedPorts;
    if (spec.subdomain !== undefined && spec.subdomain !== '') {
      create.Domainname = `${spec.subdomain}.${pod.metadata.namespace ?? 'default'}.svc`;
    }
  }
  return create;
}

/** Kubernetes' limit on a pod's name servers (glibc reads no more); the rest are dropped. */
const MAX_NAMESERVERS = 3;

/**
 * A pod's DNS as the kubelet sets it. ClusterFirst (the default; hostNetwork pods fall back to
 * Default unless ClusterFirstWithHostNet) with a cluster DNS: its server, the search path
 * `<ns>.svc.<domain> svc.<domain> <domain>` and `ndots:5`, then spec.dnsConfig merged in (name
 * servers and searches appended without repeats, options overriding by name). Otherwise
 * (Default, None, no cluster DNS): spec.dnsConfig alone over Docker's defaults.
 */
export function sandboxDns(
  spec: PodSpec,
  namespace: string,
  clusterDns: { readonly server: string; readonly domain?: string } | undefined,
): SandboxDns {
  const policy = spec.dnsPolicy ?? 'ClusterFirst';
  const hostNetwork = spec.hostNetwork === true;
  const cluster =
    clusterDns !== undefined &&
    ((policy === 'ClusterFirst' && !hostNetwork) || policy === 'ClusterFirstWithHostNet');
  const config = spec.dnsConfig;
  const servers: string[] = [];
  const searches: string[] = [];
  const options = new Map<string, string | undefined>();
  if (cluster) {
    const domain = clusterDns.domain ?? CLUSTER_DOMAIN;
    servers.push(clusterDns.server);
    searches.push(`${namespace}.svc.${domain}`, `svc.${domain}`, domain);
    options.set('ndots', '5');
  }
  for (const server of config?.nameservers ?? []) {
    if (!servers.includes(server)) servers.push(server);
  }
  for (const search of config?.searches ?? []) {
    if (!searches.includes(search)) searches.push(search);
  }
  for (const option of config?.options ?? []) {
    if (option.name === undefined || option.name === '') continue;
    // A later option of the same name replaces the earlier one in place, as the kubelet does.
    options.set(option.name, option.value);
  }
  const dns: { Dns?: string[]; DnsSearch?: string[]; DnsOptions?: string[] } = {};
  if (servers.length > 0) dns.Dns = servers.slice(0, MAX_NAMESERVERS);
  if (searches.length > 0) dns.DnsSearch = searches;
  if (options.size > 0) {
    dns.DnsOptions = [...options].map(([name, value]) =>
      value === undefined ? name : `${name}:${value}`,
    );
  }
  return dns;
}

function hostPorts(pod: Pod): {
  exposedPorts: Record<string, Record<string, never>>;
  portBindings: Record<string, { HostIp: string; HostPort: string }[]>;
} {
  const exposedPorts: Record<string, Record<string, never>> = {};
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const container of pod.spec.containers) {
    for (const port of container.ports ?? []) {
      const key = `${port.containerPort}/${(port.protocol ?? 'TCP').toLowerCase()}`;
      exposedPorts[key] = {};
      if (port.hostPort === undefined || port.hostPort === 0) continue;
      const bindings = portBindings[key] ?? [];
      bindings.push({ HostIp: port.hostIP ?? '', HostPort: String(port.hostPort) });
      portBindings[key] = bindings;
    }
  }
  return { exposedPorts, portBindings };
}

async function containerConfig(
  request: CreateContainerRequest,
  hostIP: string,
  imageUser: (image: string) => Promise<string>,
): Promise<Dockerode.ContainerCreateOptions> {
  const { pod, node, sandbox } = request;
  const spec = request.pod.spec.containers[request.containerIndex];
  if (spec === undefined) {
    throw configError(pod, `has no container at index ${request.containerIndex}`);
  }
  const env = resolveContainerEnv(
    pod,
    spec,
    { podIP: sandbox.ip, hostIP, nodeName: node },
    request.extraEnv,
  );
  if (!env.ok) throw configError(pod, env.message);
  const { entrypoint, cmd } = resolveCommandLine(spec, env.env);
  await checkRunAsNonRoot(pod, spec, () => imageUser(spec.image));
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  const config: Dockerode.ContainerCreateOptions = {
    name: containerName(pod, node, spec.name),
    Image: spec.image,
    Env: env.env.map(([name, value]) => `${name}=${value}`),
    Labels: {
      ...podLabels(pod, node, 'container'),
      [LABELS.containerName]: spec.name,
      [LABELS.specHash]: request.specHash,
      [LABELS.restartCount]: String(request.restartCount),
      [LABELS.gracePeriod]: String(grace),
    },
    Tty: spec.tty ?? false,
    OpenStdin: spec.stdin ?? false,
    StdinOnce: spec.stdinOnce ?? false,
    // What dockerd's own shutdown waits before it kills: the pod's grace, as the agent would.
    StopTimeout: grace,
    HostConfig: {
      NetworkMode: `container:${sandbox.id}`,
      // The sandbox's IPC namespace, or the host's directly (a host IPC cannot be joined).
      IpcMode: pod.spec.hostIPC === true ? 'host' : `container:${sandbox.id}`,
      RestartPolicy: { Name: 'no' },
      Mounts: await mounts(pod, spec, request),
      ...resourceLimits(pod, spec),
      ...securitySettings(spec, pod),
    },
  };
  if (pod.spec.hostPID === true) config.HostConfig = { ...config.HostConfig, PidMode: 'host' };
  else if (pod.spec.shareProcessNamespace === true) {
    config.HostConfig = { ...config.HostConfig, PidMode: `container:${sandbox.id}` };
  }
  const user = userOf(pod, spec);
  if (user !== undefined) config.User = user;
  if (entrypoint !== undefined) config.Entrypoint = entrypoint;
  if (cmd !== undefined) config.Cmd = cmd;
  if (spec.workingDir !== undefined && spec.workingDir !== '') config.WorkingDir = spec.workingDir;
  return config;
}

/**
 * runAsNonRoot as the kubelet checks it: the uid that will run (runAsUser, else the image's
 * USER) must be numeric and not 0; a user name cannot be verified and is refused.
 */
async function checkRunAsNonRoot(
  pod: Pod,
  spec: Container,
  imageUser: () => Promise<string>,
): Promise<void> {
  const runAsNonRoot = spec.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot;
  if (runAsNonRoot !== true) return;
  const explicit = spec.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  const user = explicit === undefined ? (await imageUser()).split(':')[0] || '0' : String(explicit);
  if (!/^\d+$/.test(user)) {
    throw configError(
      pod,
      `container ${spec.name} has runAsNonRoot and a non-numeric user ${user} that cannot be verified`,
    );
  }
  if (Number(user) === 0) {
    throw configError(pod, `container ${spec.name} has runAsNonRoot and would run as root`);
  }
}

/** runAsUser[:runAsGroup], the container's over the pod's. */
function userOf(pod: Pod, spec: Container): string | undefined {
  const user = spec.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  const group = spec.securityContext?.runAsGroup ?? pod.spec.securityContext?.runAsGroup;
  if (user === undefined) return undefined;
  return group === undefined ? String(user) : `${user}:${group}`;
}

function securitySettings(spec: Container, pod: Pod): Dockerode.HostConfig {
  const context = spec.securityContext;
  const settings: Dockerode.HostConfig = {};
  if (context?.privileged === true) settings.Privileged = true;
  if (context?.readOnlyRootFilesystem === true) settings.ReadonlyRootfs = true;
  if (context?.allowPrivilegeEscalation === false) settings.SecurityOpt = ['no-new-privileges'];
  const add = context?.capabilities?.add ?? [];
  const drop = context?.capabilities?.drop ?? [];
  if (add.length > 0) settings.CapAdd = add;
  if (drop.length > 0) settings.CapDrop = drop;
  const groups = [
    ...(pod.spec.securityContext?.supplementalGroups ?? []),
    ...(pod.spec.securityContext?.fsGroup === undefined ? [] : [pod.spec.securityContext.fsGroup]),
  ];
  if (groups.length > 0) settings.GroupAdd = groups.map(String);
  return settings;
}

function configError(pod: Pod, message: string): BerthError {
  return new BerthError('RUNTIME_CONTAINER_CONFIG', `pod ${podKey(pod)}: ${message}`);
}

function resourceLimits(pod: Pod, spec: Container): Dockerode.HostConfig {
  const limits: Dockerode.HostConfig = {};
  const read = (value: string | number | undefined, what: string) => {
    if (value === undefined) return undefined;
    const quantity = parseQuantity(value);
    if (isQuantityError(quantity))
      throw configError(pod, `${spec.name} ${what}: ${quantity.message}`);
    return quantity;
  };
  const memory = read(spec.resources?.limits?.memory, 'limits.memory');
  if (memory !== undefined) {
    limits.Memory = toBytes(memory);
    // No swap beyond the limit, as the kubelet sets it: the limit is what the container gets.
    limits.MemorySwap = limits.Memory;
  }
  const cpu = read(spec.resources?.limits?.cpu, 'limits.cpu');
  if (cpu !== undefined) limits.NanoCpus = toMillis(cpu) * 1_000_000;
  const cpuRequest = read(spec.resources?.requests?.cpu, 'requests.cpu');
  // The kubelet's shares from requests: 1024 per CPU, at least 2.
  if (cpuRequest !== undefined)
    limits.CpuShares = Math.max(2, Math.floor((toMillis(cpuRequest) * 1024) / 1000));
  return limits;
}

async function mounts(
  pod: Pod,
  spec: Container,
  request: CreateContainerRequest,
): Promise<Dockerode.MountSettings[]> {
  const result: Dockerode.MountSettings[] = [];
  for (const mount of spec.volumeMounts ?? []) {
    const volume = request.volumes.get(mount.name);
    if (volume === undefined) {
      throw configError(
        pod,
        `container ${spec.name} mounts volume ${mount.name}, which was not prepared`,
      );
    }
    const subPath = mount.subPath ?? '';
    if (subPath !== '' && (isAbsolute(subPath) || normalize(subPath).split('/').includes('..'))) {
      throw configError(
        pod,
        `container ${spec.name}: subPath ${subPath} must be relative without ..`,
      );
    }
    const readOnly = mount.readOnly ?? false;
    if (volume.kind === 'bind') {
      let source = volume.hostPath;
      if (subPath !== '') {
        source = join(volume.hostPath, subPath);
        // The kubelet creates a missing subPath as a directory.
        await mkdir(source, { recursive: true });
      }
      result.push({ Type: 'bind', Source: source, Target: mount.mountPath, ReadOnly: readOnly });
    } else {
      if (subPath !== '') {
        throw configError(
          pod,
          `container ${spec.name}: subPath is not supported on a Memory emptyDir`,
        );
      }
      result.push({
        Type: 'volume',
        Source: volume.name,
        Target: mount.mountPath,
        ReadOnly: readOnly,
      });
    }
  }
  return result;
}

function observedFromInspect(info: Dockerode.ContainerInspectInfo): ObservedContainer {
  const labels = info.Config.Labels ?? {};
  const state = info.State;
  const status = CONTAINER_STATES.has(state.Status) ? state.Status : 'dead';
  const neverStarted = state.StartedAt === '' || state.StartedAt.startsWith('0001-');
  const notFinished = state.FinishedAt === '' || state.FinishedAt.startsWith('0001-');
  return {
    id: info.Id,
    labels,
    role: labels[LABELS.role] === 'sandbox' ? 'sandbox' : 'container',
    podNamespace: labels[LABELS.podNamespace] ?? '',
    podName: labels[LABELS.podName] ?? '',
    podUid: labels[LABELS.podUid] ?? '',
    containerName: labels[LABELS.containerName] ?? '',
    specHash: labels[LABELS.specHash] ?? '',
    state: status as ObservedContainer['state'],
    exitCode: status === 'exited' || status === 'dead' ? state.ExitCode : undefined,
    startedAt: neverStarted ? undefined : state.StartedAt,
    finishedAt: notFinished ? undefined : state.FinishedAt,
    error: state.Error === '' ? undefined : state.Error,
    oomKilled: state.OOMKilled,
    image: info.Config.Image,
    name: info.Name.replace(/^\//, ''),
  };
}

// --- images ------------------------------------------------------------------------------

/** "repo/name:tag" → repo and tag; no tag means latest (an empty tag would pull every tag). */
export function splitImageName(name: string): { repo: string; tag: string } {
  const at = name.indexOf('@');
  if (at >= 0) return { repo: name.slice(0, at), tag: name.slice(at + 1) };
  const lastColon = name.lastIndexOf(':');
  if (lastColon > name.lastIndexOf('/')) {
    return { repo: name.slice(0, lastColon), tag: name.slice(lastColon + 1) };
  }
  return { repo: name, tag: 'latest' };
}

function pullImage(docker: Dockerode, image: string, timeoutMs: number): Promise<ImagePullResult> {
  const { repo, tag } = splitImageName(image);
  const reference = image.includes('@') ? image : `${repo}:${tag}`;
  return new Promise<ImagePullResult>((resolve) => {
    let settled = false;
    let stream: Readable | undefined;
    const finish = (result: ImagePullResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      stream?.destroy();
      finish({ ok: false, message: `pull of ${reference} did not finish within ${timeoutMs} ms` });
    }, timeoutMs);
    docker.pull(reference).then(
      (progress: NodeJS.ReadableStream) => {
        stream = progress as Readable;
        if (settled) {
          stream.destroy();
          return;
        }
        docker.modem.followProgress(progress, (error: Error | null) =>
          finish(error === null ? { ok: true } : { ok: false, message: engineMessage(error) }),
        );
      },
      (error: unknown) => finish({ ok: false, message: engineMessage(error) }),
    );
  });
}

// --- exec and logs -----------------------------------------------------------------------

/**
 * Runs a command in the container and collects its output. On timeout the call fails with
 * RUNTIME_EXEC_TIMEOUT; Docker cannot kill an exec, so the process may run on (as with the
 * kubelet's exec probes on Docker).
 */
async function execIn(
  docker: Dockerode,
  containerId: string,
  command: readonly string[],
  timeoutMs: number,
): Promise<ExecResult> {
  let exec: Dockerode.Exec;
  let stream: NodeJS.ReadWriteStream;
  try {
    // A hung engine fails the exec at its own timeout, like a command that hangs.
    exec = await withDeadline(
      docker
        .getContainer(containerId)
        .exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true, Tty: false }),
      timeoutMs,
    );
    stream = await withDeadline(exec.start({ hijack: true, stdin: false }), timeoutMs);
  } catch (error) {
    throw engineError(`exec in ${containerId}`, error);
  }
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        (stream as unknown as Readable).destroy();
        reject(
          new BerthError(
            'RUNTIME_EXEC_TIMEOUT',
            `exec ${command.join(' ')} in ${containerId} did not finish within ${timeoutMs} ms`,
            { retry: true },
          ),
        );
      }, timeoutMs);
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
  } finally {
    clearTimeout(timer);
  }
  let exitCode: number | null = null;
  try {
    exitCode = (await exec.inspect()).ExitCode;
  } catch (error) {
    throw engineError(`exec in ${containerId}`, error);
  }
  return { exitCode: exitCode ?? -1, output: demuxAll(Buffer.concat(chunks)) };
}

/**
 * Docker multiplexes a non-TTY container's stdout and stderr: each frame is an 8-byte header
 * (stream type, 3 zero bytes, big-endian length) then the payload. Returns both as one text.
 */
function demuxAll(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const length = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The same demultiplexing on a stream, frames split anywhere across chunks. */
class DockerStreamDemuxer extends Transform {
  private pending: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + length) break;
      this.push(this.pending.subarray(8, 8 + length));
      this.pending = this.pending.subarray(8 + length);
    }
    done();
  }
}

// --- events ------------------------------------------------------------------------------

interface DockerEventMessage {
  Type?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

/**
 * Follows Docker's event stream for this node's containers. When the stream ends or fails
 * (dockerd restarting), it reconnects with backoff from where it stopped (`since` the last
 * event seen, so nothing in between is lost; a repeated event is harmless to the agent).
 */
function subscribeEvents(
  docker: Dockerode,
  node: string,
  onEvent: (event: RuntimeEvent) => void,
): () => void {
  let stopped = false;
  let current: Readable | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoffMs = EVENT_BACKOFF_MIN_MS;
  // Start from the moment of subscribing: events between this call and the connection count.
  let since = nanoTimestamp(BigInt(Date.now()) * 1_000_000n);

  const scheduleReconnect = () => {
    if (stopped || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect();
    }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, EVENT_BACKOFF_MAX_MS);
  };

  const connect = () => {
    if (stopped) return;
    docker
      .getEvents({
        since,
        filters: {
          type: ['container'],
          label: [`${LABELS.node}=${node}`, `${LABELS.owner}=${OWNER}`],
        },
        // The typings say number; Docker takes "seconds.nanoseconds", which loses nothing.
      } as unknown as Dockerode.GetEventsOptions)
      .then(
        (stream: NodeJS.ReadableStream) => {
          const readable = stream as Readable;
          if (stopped) {
            readable.destroy();
            return;
          }
          current = readable;
          backoffMs = EVENT_BACKOFF_MIN_MS;
          let buffered = '';
          readable.setEncoding('utf8');
          readable.on('data', (chunk: string) => {
            buffered += chunk;
            let newline = buffered.indexOf('\n');
            while (newline >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              newline = buffered.indexOf('\n');
              if (line === '') continue;
              let message: DockerEventMessage;
              try {
                message = JSON.parse(line) as DockerEventMessage;
              } catch {
                continue;
              }
              if (message.timeNano !== undefined) since = nanoTimestamp(BigInt(message.timeNano));
              const event = toRuntimeEvent(message);
              if (event !== undefined && !stopped) onEvent(event);
            }
          });
          readable.on('error', () => {
            // 'close' follows and reconnects.
          });
          // 'end' and 'close' both come: only the first one of this stream reconnects.
          let over = false;
          const onOver = () => {
            if (over) return;
            over = true;
            if (current === readable) current = undefined;
            scheduleReconnect();
          };
          readable.on('close', onOver);
          readable.on('end', onOver);
        },
        () => scheduleReconnect(),
      );
  };

  connect();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    current?.destroy();
  };
}

function nanoTimestamp(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  const fraction = nanos % 1_000_000_000n;
  return `${seconds}.${fraction.toString().padStart(9, '0')}`;
}

function toRuntimeEvent(message: DockerEventMessage): RuntimeEvent | undefined {
  const containerId = message.Actor?.ID ?? message.id;
  if (message.Type !== 'container' || containerId === undefined) return undefined;
  const attributes = message.Actor?.Attributes ?? {};
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith('io.berth.')) labels[key] = value;
  }
  const action = message.Action ?? '';
  const names =
    action === 'rename' && attributes.oldName !== undefined && attributes.name !== undefined
      ? {
          oldName: attributes.oldName.replace(/^\//, ''),
          newName: attributes.name.replace(/^\//, ''),
        }
      : {};
  return {
    containerId,
    action: EVENT_ACTIONS.has(action) ? (action as RuntimeEvent['action']) : 'other',
    labels,
    ...names,
  };
}

// --- helpers -----------------------------------------------------------------------------

function statusCode(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const status = (error as { statusCode: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/** Docker's own message when the engine sent one (`{"message": ...}`), else the error's text. */
export function engineMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (name === 'AbortError' || name === 'TimeoutError') {
      return 'the engine did not answer in time (call abandoned)';
    }
    const json = (error as { json?: unknown }).json;
    if (typeof json === 'object' && json !== null && 'message' in json) {
      const message = (json as { message: unknown }).message;
      if (typeof message === 'string' && message !== '') return message;
    }
    if (error instanceof BerthError) return error.message;
    if (error instanceof Error) return error.message;
  }
  return String(error);
}

function engineError(what: string, error: unknown): BerthError {
  if (error instanceof BerthError) return error;
  return new BerthError('RUNTIME_ENGINE_FAILED', `${what}: ${engineMessage(error)}`, {
    retry: true,
    cause: error,
  });
}

/** Rejects when `call` has not settled within `ms`; the call itself is not cancelled. */
function withDeadline<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${ms} ms`);
      error.name = 'TimeoutError';
      reject(error);
    }, ms);
  });
  return Promise.race([call, expired]).finally(() => clearTimeout(timer));
}

async function removeQuietly(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
  } catch {
    // Best effort: a leftover is found by list() and removed by the agent as an orphan.
  }
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
