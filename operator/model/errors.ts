/**
 * One base error for berth, with a stable `code` per failure kind. Callers switch on
 * `code`, never on message text. `retry` says whether trying again can help.
 */
export type BerthErrorCode =
  // source
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_REF_NOT_FOUND'
  | 'SOURCE_PATH_NOT_FOUND'
  | 'SOURCE_UNREACHABLE'
  | 'SOURCE_NOT_A_REPOSITORY'
  | 'SOURCE_UNSUPPORTED_URL'
  | 'SOURCE_READ_FAILED'
  | 'SOURCE_CHANGED'
  // cli
  | 'CLI_USAGE'
  // agent runtime (Docker adapter)
  /** The engine refused or failed a call; the message is the engine's. */
  | 'RUNTIME_ENGINE_FAILED'
  /** The pod cannot start as written (Kubernetes' CreateContainerConfigError). */
  | 'RUNTIME_CONTAINER_CONFIG'
  /** The sandbox (pause) container could not start, e.g. a host port already taken. */
  | 'RUNTIME_SANDBOX_FAILED'
  | 'RUNTIME_HELPER_IMAGE_FAILED'
  | 'RUNTIME_EXEC_TIMEOUT'
  // api (operator <-> agent protocol)
  | 'API_UNREACHABLE'
  | 'API_UNAUTHORIZED'
  | 'API_NODE_UNKNOWN'
  | 'API_PROTOCOL_VERSION'
  | 'API_BAD_RESPONSE'
  // agent (standalone, HTTP)
  | 'AGENT_LISTEN_FAILED'
  | 'AGENT_TOKEN'
  // agent (node agent)
  | 'AGENT_POD_NOT_FOUND'
  | 'AGENT_CONTAINER_NOT_FOUND'
  // apps (named sources) and the operator server
  /** An app name that is not a DNS-1123 label. */
  | 'APP_NAME_INVALID'
  /** The app is already applied from another source. */
  | 'APP_SOURCE_CONFLICT'
  /** No app of that name is kept in sync. */
  | 'APP_NOT_FOUND'
  /** An app's source is of a kind this operator cannot read (e.g. hosted, with no git host). */
  | 'APP_SOURCE_UNSUPPORTED'
  /** The pass deleting a removed app's objects was refused: nothing was deleted, the app stays. */
  | 'APP_REMOVE_REFUSED'
  /** The apps config file (berth.yaml) has problems. */
  | 'CONFIG_INVALID'
  /** No operator answers where one was expected (server.json, --server, BERTH_SERVER). */
  | 'SERVER_UNREACHABLE'
  /** The operator server could not listen on its address. */
  | 'SERVER_LISTEN_FAILED'
  /** The operator server refused a request's shape (a client of another berth version). */
  | 'SERVER_BAD_REQUEST'
  /** The operator server failed a request for a reason of its own (its log says more). */
  | 'SERVER_FAILED'
  // store (the operator's embedded database)
  /** Another live operator holds the data dir. */
  | 'STORE_LOCKED'
  /** The database could not be opened or written (disk, permissions, corruption). */
  | 'STORE_FAILED'
  /** The database was written by a newer berth; this one does not know its schema. */
  | 'STORE_SCHEMA_TOO_NEW'
  /** A requested cluster IP or node port is held by another object. */
  | 'STORE_ALLOCATION_TAKEN'
  /** Every value of the range is allocated. */
  | 'STORE_ALLOCATION_EXHAUSTED'
  // service proxy (the agent's iptables rules)
  /** The host cannot carry services: not root, or iptables / iproute2 missing. */
  | 'PROXY_UNAVAILABLE'
  /** The service range overlaps a network of the host, or the sink device is not berth's. */
  | 'PROXY_RANGE_CONFLICT'
  /** An iptables, ip or sysctl command failed or missed its deadline. */
  | 'PROXY_FAILED'
  // example images (images/build.ts, `npm run images`)
  /** An image recipe (`image.yaml`) has problems, each at file:line:col. */
  | 'IMAGE_RECIPE_INVALID'
  /** No recipe builds the image asked for. */
  | 'IMAGE_UNKNOWN'
  /** The machine cannot build images: not root, or mmdebstrap missing. */
  | 'IMAGE_BUILD_UNAVAILABLE'
  /** The Docker Engine does not answer. */
  | 'IMAGE_DOCKER_UNREACHABLE'
  /** mmdebstrap or docker import failed; the message carries their last output. */
  | 'IMAGE_BUILD_FAILED';

export class BerthError extends Error {
  readonly code: BerthErrorCode;
  /** True when the same call may succeed later (network down, lock held); false when a person must act. */
  readonly retry: boolean;
  /** What the user can do about it, shown after the message. */
  readonly hint: string | undefined;

  constructor(
    code: BerthErrorCode,
    message: string,
    options: { hint?: string; retry?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.retry = options.retry ?? false;
    this.hint = options.hint;
  }
}

export function isBerthError(value: unknown): value is BerthError {
  return value instanceof BerthError;
}
