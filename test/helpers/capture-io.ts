import { Writable } from 'node:stream';
import type { CliIo } from '../../operator/cli/io.js';

/** A CliIo whose stdout and stderr are collected as text, for running commands through main(). */
export function captureIo(env: NodeJS.ProcessEnv = {}): CliIo & {
  out: () => string;
  err: () => string;
} {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk, _encoding, callback) {
        append(String(chunk));
        callback();
      },
    });
  return {
    stdout: sink((t) => {
      out += t;
    }),
    stderr: sink((t) => {
      err += t;
    }),
    env,
    cwd: process.cwd(),
    out: () => out,
    err: () => err,
  };
}
