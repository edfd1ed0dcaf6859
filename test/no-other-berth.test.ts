import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { otherBerthProcesses, runsANodeAgent } from './no-other-berth.js';

describe('the guard against a berth running outside the tests', () => {
  it('knows the commands that run a node agent', () => {
    expect(runsANodeAgent(['node', '/w/bin/berth.js', 'serve', '--data-dir', 'd'])).toBe(true);
    expect(runsANodeAgent(['/usr/local/bin/berth', 'agent', '--server', 'u'])).toBe(true);
    expect(runsANodeAgent(['node', 'bin/berth.js', 'apply', 'guestbook'])).toBe(true);
    expect(runsANodeAgent(['node', 'bin/berth.js', 'serve', '--no-agent'])).toBe(false);
    expect(runsANodeAgent(['node', 'bin/berth.js', 'status', 'guestbook'])).toBe(false);
    expect(runsANodeAgent(['node', 'bin/berthold.js', 'serve'])).toBe(false);
    expect(runsANodeAgent(['vim', 'serve'])).toBe(false);
  });

  it('lists such processes from a proc tree', () => {
    const proc = mkdtempSync(path.join(os.tmpdir(), 'berth-proc-'));
    const add = (pid: number, ppid: number, argv: string[]) => {
      mkdirSync(path.join(proc, String(pid)));
      writeFileSync(path.join(proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
      writeFileSync(path.join(proc, String(pid), 'stat'), `${pid} (no de) S ${ppid} 1 1`);
    };
    add(11, 1, ['node', '/srv/berth/bin/berth.js', 'serve']);
    add(12, 1, ['node', '/srv/berth/bin/berth.js', 'get', 'pods']);
    add(13, 1, ['bash']);
    add(20, 1, ['node', 'vitest']); // the test run
    add(21, 20, ['sh', '-c', 'node berth.js agent']);
    add(22, 21, ['node', '/srv/berth/bin/berth.js', 'agent']); // a test's own agent
    mkdirSync(path.join(proc, 'self'));
    expect(otherBerthProcesses(proc, 20)).toEqual([
      { pid: 11, command: 'node /srv/berth/bin/berth.js serve' },
    ]);
  });
});
