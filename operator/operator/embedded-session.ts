/**
 * An OperatorSession on an operator embedded in this process (`berth apply` with no server
 * running): the operator starts with the session and stops with it, leaving pods running.
 */
import type { EmbeddedOperator, EmbeddedOperatorOptions } from './embedded.js';
import { readOperatorState } from './readout.js';
import type { OperatorSession } from './session.js';
import { syncApp } from './sync-app.js';

export interface EmbeddedSessionOptions extends EmbeddedOperatorOptions {
  /** How long a sync waits for the local node to register first. @default 15 s */
  readonly nodeReadyTimeoutMs?: number;
  /** Called when the local node did not register in time (pods stay Pending). */
  readonly onNodeNotReady?: (node: string) => void;
  readonly startOperator?: (options: EmbeddedOperatorOptions) => Promise<EmbeddedOperator>;
}

export async function openEmbeddedSession(
  options: EmbeddedSessionOptions,
): Promise<OperatorSession & { readonly operator: EmbeddedOperator }> {
  const start = options.startOperator ?? (await import('./embedded.js')).startEmbeddedOperator;
  const operator = await start(options);
  const now = (): number => options.clock?.now() ?? Date.now();
  let waitedForNode = false;
  return {
    operator,
    where: 'embedded operator',
    async sync(request) {
      if (!waitedForNode) {
        waitedForNode = true;
        // Without its node the first pass would leave every pod Pending.
        if (!(await operator.nodeReady(options.nodeReadyTimeoutMs ?? 15_000))) {
          options.onNodeNotReady?.(operator.nodeName);
        }
      }
      return syncApp(
        {
          store: operator.store,
          engine: operator.engine,
          now: () => new Date(now()).toISOString(),
        },
        request,
      );
    },
    async read() {
      const podsOnEngine = await operator.agent?.podsOnEngine();
      return readOperatorState(operator.store, now(), {
        endpoint: operator.endpoint,
        ...(podsOnEngine === undefined ? {} : { podsOnEngine }),
      });
    },
    close: () => operator.close(),
  };
}
