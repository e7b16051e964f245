/**
 * "3 min ago" / "in 2 h" against a given `now` (pure). The server passes its `now` with the page
 * data, so the server's and the browser's renders agree (no hydration mismatch), and an
 * auto-refresh moves both together.
 */
const UNITS: [limitSeconds: number, unitSeconds: number, name: string][] = [
  [60, 1, "s"],
  [3_600, 60, "min"],
  [86_400, 3_600, "h"],
  [Infinity, 86_400, "d"],
];

export function relativeTime(iso: string, now: string): string {
  const seconds = Math.round((Date.parse(iso) - Date.parse(now)) / 1000);
  const size = Math.abs(seconds);
  if (size < 5) return "just now";
  const [, unit, name] = UNITS.find(([limit]) => size < limit)!;
  const amount = Math.floor(size / unit);
  return seconds < 0 ? `${amount} ${name} ago` : `in ${amount} ${name}`;
}

/** The exact instant as shown on hover: `2026-12-07 13:53:24 UTC`. */
export function exactUtc(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}
