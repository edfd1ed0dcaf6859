/**
 * Structured logs of `berth serve` (pino): one JSON object per line when the output is not a
 * terminal (for journald, docker logs, log shippers), one readable line per record on a
 * terminal. Secrets never reach the output: fields named like a token, password, secret or
 * authorization header are redacted wherever they sit (two levels deep), and credentials in
 * URLs (`https://user:token@host/...`) are masked in every line written, messages included.
 */
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Where log lines go: a stream, told whether it is a terminal. */
export interface LogDestination {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface LoggerOptions {
  readonly destination: LogDestination;
  /** @default 'info' */
  readonly level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** One readable line per record. @default the destination is a terminal */
  readonly pretty?: boolean;
  /** Fields on every record (e.g. `{component: 'serve'}`). */
  readonly base?: Readonly<Record<string, unknown>>;
}

const SECRET_KEYS = [
  'token',
  'password',
  'secret',
  'authorization',
  'Authorization',
  'webhookSecret',
  'apiKey',
];

/** pino's redact paths: each secret key at the top, one and two levels down. */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((key) => [
  key,
  `*.${key}`,
  `*.*.${key}`,
]);

export const REDACTED = '[redacted]';

/** `scheme://user:password@` → `scheme://user:***@`; `scheme://token@` → `scheme://***@`. */
export function maskUrlCredentials(text: string): string {
  return text.replace(
    /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:"']+)(?::([^\s/@"']*))?@/gi,
    (_match, scheme: string, user: string, password: string | undefined) =>
      password === undefined ? `${scheme}***@` : `${scheme}${user}:***@`,
  );
}

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

function shown(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
}

/** One JSON record → `HH:MM:SS.mmm LEVEL msg key=value ...` (a line that is not JSON passes). */
export function formatRecord(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = record;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const levelName = (typeof level === 'number' ? LEVEL_NAMES[level] : undefined) ?? String(level);
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${shown(value)}`)
    .join(' ');
  const parts = [clock, levelName.padEnd(5), typeof msg === 'string' ? msg : '', fields];
  return `${parts.filter((part) => part !== '').join(' ')}\n`;
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? options.destination.isTTY === true;
  const stream = {
    write(line: string): void {
      const masked = maskUrlCredentials(line);
      options.destination.write(pretty ? formatRecord(masked) : masked);
    },
  };
  return pino(
    {
      level: options.level ?? 'info',
      // No pid or hostname on every line; the caller's fields instead.
      base: options.base === undefined ? null : { ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    },
    stream,
  );
}
