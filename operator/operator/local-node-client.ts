/**
 * The node client of the operator's own agent. Its assignment watch is parked on the endpoint
 * nearly all the time; a request in flight through Node's fetch (undici) keeps a timer ticking
 * twice a second for the whole wait, which is most of an idle operator's CPU. So the watch
 * goes through node:http, which waits without a tick. Every answer that is not a plain 200
 * assignment (an error, a refused token, another protocol version, an unreachable operator)
 * is asked again through the fetch client with no wait, so failures are the fetch client's
 * own BerthErrors, code for code.
 */
import { request } from 'node:http';
import { isRecord } from '../api/http.js';
import type { NodeClient } from '../api/node-client.js';
import { type AssignmentsResponse, PROTOCOL_VERSION } from '../api/protocol.js';

export interface LocalNodeClientOptions {
  /** The operator's base URL, e.g. `http://127.0.0.1:7070` (http only). */
  readonly server: string;
  readonly token: string;
  readonly name: string;
}

export function createLocalNodeClient(
  options: LocalNodeClientOptions,
  fetchClient: NodeClient,
): NodeClient {
  const base = options.server.replace(/\/+$/, '');
  const nodePath = `/v1/nodes/${encodeURIComponent(options.name)}`;

  /** The watch's answer when it is a plain 200 assignment; undefined for anything else. */
  function watchOverHttp(
    version: string,
    timeoutSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<AssignmentsResponse | undefined> {
    const query = new URLSearchParams({ version, timeoutSeconds: String(timeoutSeconds) });
    return new Promise((resolve, reject) => {
      const call = request(
        `${base}${nodePath}/pods?${query}`,
        {
          method: 'GET',
          headers: { authorization: `Bearer ${options.token}` },
          ...(signal === undefined ? {} : { signal }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', () => resolve(undefined));
          response.on('end', () => {
            if (response.statusCode !== 200) {
              resolve(undefined);
              return;
            }
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
              resolve(
                isRecord(parsed) &&
                  parsed.protocolVersion === PROTOCOL_VERSION &&
                  typeof parsed.version === 'string' &&
                  Array.isArray(parsed.pods)
                  ? (parsed as unknown as AssignmentsResponse)
                  : undefined,
              );
            } catch {
              resolve(undefined);
            }
          });
        },
      );
      call.on('error', (error) => {
        if (signal?.aborted === true) reject(error);
        else resolve(undefined);
      });
      call.end();
    });
  }

  return {
    register: (registration, signal) => fetchClient.register(registration, signal),
    heartbeat: (signal) => fetchClient.heartbeat(signal),
    reportStatus: (pods, signal, events) => fetchClient.reportStatus(pods, signal, events),
    async watchAssignments(version, timeoutSeconds, signal) {
      const answer = await watchOverHttp(version, timeoutSeconds, signal);
      if (answer !== undefined) return answer;
      // Not a plain answer: the fetch client, without waiting, says what went wrong (or
      // answers, when it has cleared up meanwhile).
      return fetchClient.watchAssignments(version, 0, signal);
    },
  };
}
