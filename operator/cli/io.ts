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
