import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME, openStore } from '../../operator/store/index.js';

const WRITER = join(import.meta.dirname, 'crash-writer.ts');
const APP = 'crash';
const INVENTORY_SIZE = 20;
const ASSIGNMENT_COUNT = 10;

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-crash-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * Starts the writer, waits until it has committed `batches` batches (so it is busy writing),
 * SIGKILLs it and waits for its exit. Returns the last batch it reported and its pid.
 */
async function runWriterAndKill(batches: number): Promise<{ reported: number; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let reported = 0;
  let seen = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue;
        reported = Number(line);
        seen += 1;
        if (seen === batches) {
          child.kill('SIGKILL');
          resolve();
        }
      }
    });
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited (${code}): ${stderr}`));
    });
  });
  await exited;
  expect(child.signalCode).toBe('SIGKILL');
  return { reported, pid: child.pid! };
}

function batchOf(value: unknown): number {
  return (value as { batch: number }).batch;
}

describe('crash safety', () => {
  it('a writer killed at a random moment leaves whole transactions and a lock to take over', async () => {
    let lastBatch = 0;
    for (let round = 0; round < 4; round++) {
      const batches = 2 + Math.floor(Math.random() * 25);
      const { reported, pid } = await runWriterAndKill(batches);
      // The dead writer's lock is still there, naming it.
      expect(readFileSync(join(dataDir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(pid));

      const store = openStore(dataDir);
      try {
        expect(readFileSync(join(dataDir, LOCK_FILE_NAME), 'utf8').trim()).toBe(
          String(process.pid),
        );
        // Inventory: one whole batch, at least the last one reported, at most the one after.
        const inventory = store.inventory(APP);
        expect(inventory.length).toBe(INVENTORY_SIZE);
        const batch = batchOf(inventory[0]!.applied);
        expect(inventory.every((entry) => batchOf(entry.applied) === batch)).toBe(true);
        expect(batch).toBeGreaterThanOrEqual(reported);
        expect(batch).toBeLessThanOrEqual(reported + 1);
        expect(batch).toBeGreaterThan(lastBatch);
        lastBatch = batch;

        // Assignments: every pod from the same write, with the same version.
        const assignments = store.assignments();
        expect(assignments.length).toBe(ASSIGNMENT_COUNT);
        const assignmentBatch = batchOf(assignments[0]!.pod);
        const version = assignments[0]!.version;
        for (const assignment of assignments) {
          expect(batchOf(assignment.pod)).toBe(assignmentBatch);
          expect(assignment.version).toBe(version);
        }
        expect(assignmentBatch).toBeGreaterThanOrEqual(reported);

        // Sync history: at most one entry per killed writer left unfinished; a finished one
        // has its outcome and counts together.
        const history = store.syncHistory(APP, 10_000);
        const unfinished = history.filter((record) => record.outcome === undefined);
        expect(unfinished.length).toBeLessThanOrEqual(round + 1);
        for (const record of unfinished) expect(record.summary.create).toBe(0);
        for (const record of history.filter((r) => r.outcome !== undefined)) {
          expect(record.outcome).toBe('succeeded');
          expect(`commit-${record.summary.create}`).toBe(record.commit);
        }
      } finally {
        store.close();
      }
    }
  });
});
