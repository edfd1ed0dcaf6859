import { describe, expect, it } from 'vitest';
import { createLogger, formatRecord, maskUrlCredentials } from '../../operator/operator/log.js';

function sink(isTTY: boolean): { lines: string[]; isTTY: boolean; write(text: string): void } {
  const lines: string[] = [];
  return { lines, isTTY, write: (text: string) => lines.push(text) };
}

describe('berth serve logs', () => {
  it('prints one JSON object per line when not on a terminal, secrets redacted', () => {
    const out = sink(false);
    const logger = createLogger({ destination: out, base: { component: 'serve' } });
    const token = 'c0ffee-secret-token-1234';
    logger.info({ token, request: { authorization: `Bearer ${token}`, path: '/git' } }, 'push');
    logger.warn({ app: 'web', password: token }, 'webhook refused');
    expect(out.lines).toHaveLength(2);
    for (const line of out.lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line).not.toContain(token);
    }
    const first = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      level: 30,
      msg: 'push',
      component: 'serve',
      token: '[redacted]',
      request: { authorization: '[redacted]', path: '/git' },
    });
    expect(typeof first.time).toBe('string');
    expect(JSON.parse(out.lines[1]!)).toMatchObject({
      level: 40,
      app: 'web',
      password: '[redacted]',
    });
  });

  it('masks credentials in URLs, in messages too', () => {
    const out = sink(false);
    createLogger({ destination: out }).info(
      'fetching https://berth:s3cr3t@example.invalid/repo.git failed',
    );
    expect(out.lines[0]).not.toContain('s3cr3t');
    expect(JSON.parse(out.lines[0]!).msg).toBe(
      'fetching https://berth:***@example.invalid/repo.git failed',
    );
    expect(maskUrlCredentials('http://tok3n@h/x and http://h/y')).toBe(
      'http://***@h/x and http://h/y',
    );
  });

  it('prints one readable line per record on a terminal', () => {
    const out = sink(true);
    createLogger({ destination: out }).error({ app: 'web', token: 'abc123' }, 'sync failed');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} ERROR sync failed app=web token=\[redacted\]\n$/,
    );
    expect(formatRecord('not json\n')).toBe('not json\n');
  });
});
