import { readdirSync, readFileSync } from 'node:fs';

/**
 * The Docker tests run berth agents and `berth serve`s of their own. Every berth node on a
 * machine writes the same BERTH iptables chains and answers cluster DNS on the bridge gateway's
 * port 53, so a berth started outside the tests (the quick start's `berth serve`, say) and the
 * tests' would undo each other's rules and fail in confusing ways. Refuse at once instead,
 * naming the processes and how to stop them.
 */
export default function setup(): void {
  const others = otherBerthProcesses();
  if (others.length === 0) return;
  throw new Error(
    [
      'berth is already running on this machine, outside the tests:',
      ...others.map((other) => `  pid ${other.pid}: ${other.command}`),
      "Its node agent and the tests' would rewrite each other's service rules (BERTH iptables chains)",
      "and compete for cluster DNS. Stop it first: `npx berth stop` stops the quick start's",
      'berth serve (its pods keep running); stop any other with `kill PID`.',
    ].join('\n'),
  );
}

interface BerthProcess {
  readonly pid: number;
  readonly command: string;
}

/**
 * `berth serve`, `berth agent` and `berth apply` processes (they run node agents) that this
 * test run did not start (its own children are the tests' berths).
 */
export function otherBerthProcesses(procRoot = '/proc', self = process.pid): BerthProcess[] {
  const found: BerthProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === self) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${procRoot}/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // gone since the listing, or not ours to read
    }
    if (!runsANodeAgent(argv) || descendsFrom(procRoot, Number(entry), self)) continue;
    found.push({ pid: Number(entry), command: argv.join(' ') });
  }
  return found;
}

/** True for `… berth[.js] serve|agent|apply …` (node running the bin, or the bin itself). */
export function runsANodeAgent(argv: readonly string[]): boolean {
  const bin = argv.findIndex((arg) => /(^|\/)berth(\.js)?$/.test(arg));
  if (bin === -1) return false;
  const command = argv[bin + 1];
  if (command === 'agent' || command === 'apply') return true;
  return command === 'serve' && !argv.includes('--no-agent');
}

function parentOf(procRoot: string, pid: number): number | undefined {
  try {
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function descendsFrom(procRoot: string, pid: number, ancestor: number): boolean {
  let current: number | undefined = pid;
  for (let hops = 0; current !== undefined && hops < 64; hops += 1) {
    if (current === ancestor) return true;
    current = parentOf(procRoot, current);
  }
  return false;
}
