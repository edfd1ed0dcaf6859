/**
 * Ages as kubectl prints them (its HumanDuration): precise while short, coarser as they grow,
 * so a column stays narrow: `45s`, `5m10s`, `12m`, `3h5m`, `3h`, `2d4h`, `30d`, `2y10d`.
 */

const SECOND = 1000;

/** `now - since` as kubectl's AGE column; `<unknown>` without a valid start time. */
export function formatAge(since: string | undefined, now: Date): string {
  if (since === undefined) return '<unknown>';
  const start = Date.parse(since);
  if (Number.isNaN(start)) return '<unknown>';
  return formatDuration(now.getTime() - start);
}

/** A duration in ms as kubectl's HumanDuration (a clock skew of up to a second reads as 0s). */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return withRest(minutes, 'm', seconds % 60, 's');
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return withRest(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return withRest(days, 'd', hours % 24, 'h');
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return withRest(years, 'y', days % 365, 'd');
  return `${years}y`;
}

function withRest(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major}${majorUnit}` : `${major}${majorUnit}${minor}${minorUnit}`;
}
