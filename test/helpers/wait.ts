/** How often a waiting test looks again; short, since every wait also has a deadline. */
const POLL_MS = 25;

/**
 * Polls a condition until it gives a value (anything but false, undefined or null) or the
 * deadline passes; fails naming what it waited for and the last value seen. The one way
 * tests wait: on a condition with a deadline, never a fixed sleep.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
  pollMs = POLL_MS,
): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last !== false && last !== undefined && last !== null) {
      return last as Exclude<T, false | undefined | null>;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
