/**
 * The `berth` command: parses the command word, runs it, and turns every failure into a
 * plain message and an exit code. No stack traces for things a user can fix.
 */
import { readFileSync } from 'node:fs';
import { isBerthError } from '../model/errors.js';
import { AGENT_HELP, runAgent } from './agent.js';
import { APP_HELP, runApp } from './app.js';
import { APPLY_HELP, runApply } from './apply.js';
import { DIFF_HELP, runDiff } from './diff.js';
import { EVENTS_HELP, runEvents } from './events.js';
import { GET_HELP, runGet } from './get.js';
import { HISTORY_HELP, runHistory } from './history.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { LOGS_HELP, runLogs } from './logs.js';
import { runServe, SERVE_HELP } from './serve.js';
import { runStatus, STATUS_HELP } from './status.js';
import { runStop, STOP_HELP } from './stop.js';
import { runValidate, VALIDATE_HELP } from './validate.js';

export type { CliIo } from './io.js';

const HELP = `berth: a declarative GitOps operator for containers.
Kubernetes v1 manifests (Pod, ReplicationController, Service) in git, running on Docker.

Usage: berth COMMAND [options]

Commands:
  validate SOURCE    check manifests as a Kubernetes v1 API server would (exit 0 valid, 2 invalid)
  diff SOURCE        what a sync would change, as unified diffs; --from/--to compare two commits
                     (exit 0 in sync, 1 differences, 2 error)
  get TYPE           show pods, rc, services, endpoints or nodes from the operator
  apply SOURCE       run SOURCE on this host and wait until its pods are ready
                     (exit 0 ready, 1 not ready at --timeout, 2 invalid)
  logs POD           print a pod's container log from this host's Docker Engine (-f to follow)
  agent              run this host's node agent (pods from --manifests DIR or an operator --server)
  serve              run the operator as a server for agents on other hosts and client commands
  stop               stop the berth serve of the data dir (its pods keep running)
  status [APP]       the apps berth serve keeps in sync: ref, commit, sync state, health, why
                     (--wait: until APP is Synced and Healthy)
  history APP        an app's last syncs: commit, time, duration, result, changes
  events             what the operator saw and did (--app APP)
  app COMMAND        add, remove, list, pin, unpin or sync the apps berth serve keeps in sync
  help [COMMAND]     show help for a command
  version            print berth's version

Run 'berth COMMAND --help' for a command's options.`;

const COMMAND_HELP: Record<string, string> = {
  validate: VALIDATE_HELP,
  diff: DIFF_HELP,
  agent: AGENT_HELP,
  apply: APPLY_HELP,
  get: GET_HELP,
  logs: LOGS_HELP,
  serve: SERVE_HELP,
  stop: STOP_HELP,
  status: STATUS_HELP,
  history: HISTORY_HELP,
  events: EVENTS_HELP,
  app: APP_HELP,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return await runValidate(rest, io);
      case 'diff':
        return await runDiff(rest, io);
      case 'agent':
        return await runAgent(rest, io);
      case 'apply':
        return await runApply(rest, io);
      case 'get':
        return await runGet(rest, io);
      case 'logs':
        return await runLogs(rest, io);
      case 'serve':
        return await runServe(rest, io);
      case 'stop':
        return await runStop(rest, io);
      case 'status':
        return await runStatus(rest, io);
      case 'history':
        return await runHistory(rest, io);
      case 'events':
        return await runEvents(rest, io);
      case 'app':
        return await runApp(rest, io);
      case 'version':
      case '--version':
        writeLine(io.stdout, `berth ${version()}`);
        return EXIT.ok;
      case undefined:
      case 'help':
      case '--help':
      case '-h': {
        const topic = rest[0];
        const text = topic === undefined ? HELP : COMMAND_HELP[topic];
        if (text === undefined) {
          writeLine(
            io.stderr,
            `berth: no help for "${topic}"; commands: ${Object.keys(COMMAND_HELP).join(', ')}`,
          );
          return EXIT.error;
        }
        writeLine(io.stdout, text);
        return EXIT.ok;
      }
      default:
        writeLine(io.stderr, `berth: unknown command "${command}"`);
        writeLine(io.stderr, `Run 'berth help' for the list of commands.`);
        return EXIT.error;
    }
  } catch (error) {
    if (isBerthError(error)) {
      writeLine(io.stderr, `berth: ${error.message}`);
      if (error.hint !== undefined) writeLine(io.stderr, `hint: ${error.hint}`);
      return EXIT.error;
    }
    if (
      error instanceof TypeError &&
      'code' in error &&
      typeof error.code === 'string' &&
      error.code.startsWith('ERR_PARSE_ARGS')
    ) {
      writeLine(io.stderr, `berth: ${error.message}`);
      writeLine(io.stderr, `Run 'berth ${command ?? ''} --help' for the options.`);
      return EXIT.error;
    }
    throw error;
  }
}
