/**
 * Finding a running `berth serve`: `--server URL`, else $BERTH_SERVER, else the address a
 * server on the same data dir recorded. (Stub: filled in with the server.)
 */
export interface ServerAddress {
  readonly url: string;
  readonly token: string;
}

export interface FindServerOptions {
  /** `--server URL` as given. */
  readonly server?: string;
  /** `--token` as given. */
  readonly token?: string;
  readonly env: NodeJS.ProcessEnv;
  /** The resolved data dir. */
  readonly dataDir: string;
}

export async function findOperatorServer(
  _options: FindServerOptions,
): Promise<ServerAddress | undefined> {
  return undefined;
}
