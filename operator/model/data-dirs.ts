import os from 'node:os';
import path from 'node:path';

/** `$XDG_DATA_HOME/berth`, else `~/.local/share/berth`: where berth keeps its own files. */
export function berthDataHome(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== ''
      ? env.XDG_DATA_HOME
      : path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'berth');
}

/** The embedded operator's data dir when --data-dir is not given. */
export function defaultOperatorDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(berthDataHome(env), 'operator');
}

/** A node agent's data dir when --data-dir is not given: one folder per node name. */
export function defaultNodeDataDir(env: NodeJS.ProcessEnv, node: string): string {
  return path.join(berthDataHome(env), 'nodes', node);
}
