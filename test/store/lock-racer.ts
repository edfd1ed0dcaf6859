/**
 * Run by lock.test.ts as a child process: tries to open the store in the data dir (argument),
 * prints `won` or the error code, then holds what it got until its stdin closes.
 */
import { isBerthError } from '../../operator/model/errors.js';
import { openStore } from '../../operator/store/index.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: lock-racer <data dir>');
try {
  const store = openStore(dataDir);
  process.stdout.write('won\n');
  process.stdin.on('end', () => store.close());
  process.stdin.resume();
} catch (error) {
  process.stdout.write(`${isBerthError(error) ? error.code : String(error)}\n`);
}
