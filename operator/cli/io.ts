/** What a command may touch of the process; tests pass their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** Exit codes shared by the commands (`kubectl diff` style for diff). */
export const EXIT = {
  ok: 0,
  /** diff: differences found. */
  differences: 1,
  /** invalid input, usage error, or a failure. */
  error: 2,
} as const;

export function writeLine(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`);
}

/**
 * Aborted by SIGINT or SIGTERM, so a long-running command can stop its loops and release
 * what it holds; dispose() removes the handlers.
 */
export function processStopSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
