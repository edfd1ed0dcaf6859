import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../operator/model/errors.js';
import { ensureImages, type ProgressEvent } from './builder.js';
import type { BuildPhase } from './mmdebstrap.js';

/**
 * `npm run images [-- NAME...] [--force]`: builds the example images (every recipe, or the
 * named ones) from Debian packages; an image already built from its current recipe is
 * skipped. Also the library entry for tests: `ensureImages(names)`.
 */

export {
  type BuiltImage,
  type EnsureOptions,
  ensureImages,
  loadRecipes,
  type ProgressEvent,
} from './builder.js';

const USAGE = `usage: npm run images [-- [--force] [NAME...]]
Builds the example images from their recipes (images/*, guestbook/*, wordpress/*: image.yaml)
with mmdebstrap and docker import. NAME is an image name such as redis:7.0; without names,
every recipe is built. An image whose recipe did not change is skipped; --force rebuilds.`;

export async function main(argv: readonly string[], out: NodeJS.WriteStream = process.stdout) {
  const names: string[] = [];
  let force = false;
  for (const arg of argv) {
    if (arg === '--force') force = true;
    else if (arg === '-h' || arg === '--help') {
      out.write(`${USAGE}\n`);
      return 0;
    } else if (arg.startsWith('-')) {
      process.stderr.write(`unknown option ${arg}\n${USAGE}\n`);
      return 2;
    } else names.push(arg);
  }

  const live = new LiveLine(out);
  const started = Date.now();
  try {
    const results = await ensureImages(names, { force, onProgress: (e) => live.event(e) });
    live.stop();
    const built = results.filter((r) => r.built).length;
    out.write(
      `${results.length} image(s): ${built} built, ${results.length - built} up to date, in ${seconds(Date.now() - started)}\n`,
    );
    return 0;
  } catch (error) {
    live.stop();
    if (error instanceof BerthError) {
      process.stderr.write(`error: ${error.message} [${error.code}]\n`);
      if (error.hint !== undefined) process.stderr.write(`hint: ${error.hint}\n`);
    } else {
      process.stderr.write(`error: ${error instanceof Error ? error.stack : String(error)}\n`);
    }
    return 1;
  }
}

/** One line per image on start and finish; on a terminal, a live line of what each build does. */
class LiveLine {
  private readonly running = new Map<string, { phase: BuildPhase; since: number }>();
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  event(event: ProgressEvent): void {
    switch (event.kind) {
      case 'start':
        this.running.set(event.image, { phase: 'preparing', since: Date.now() });
        this.line(`building ${event.image} (${event.packages.join(', ') || 'no packages'})`);
        if (this.out.isTTY && this.timer === undefined) {
          this.timer = setInterval(() => this.draw(), 1000);
          this.timer.unref();
        }
        break;
      case 'phase': {
        const entry = this.running.get(event.image);
        if (entry !== undefined) entry.phase = event.phase;
        this.draw();
        break;
      }
      case 'done':
        this.running.delete(event.image);
        this.line(
          event.result.built
            ? `built ${event.image} in ${event.result.seconds.toFixed(1)} s (${megabytes(event.result.sizeBytes)})`
            : `${event.image} is up to date (${event.result.seconds.toFixed(1)} s, ${megabytes(event.result.sizeBytes)})`,
        );
        break;
      case 'failed':
        this.running.delete(event.image);
        this.line(`failed ${event.image} after ${event.seconds.toFixed(1)} s`);
        break;
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
    this.draw();
  }

  private clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }

  private draw(): void {
    if (!this.out.isTTY || this.running.size === 0) return;
    const now = Date.now();
    const parts = [...this.running].map(
      ([image, { phase, since }]) => `${image}: ${phase} ${seconds(now - since)}`,
    );
    this.clear();
    this.out.write(`  ${parts.join(' · ')}`.slice(0, (this.out.columns || 100) - 1));
    this.shown = true;
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(0)} MB`;
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && resolve(invokedAs) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
