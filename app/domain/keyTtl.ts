/**
 * How the admin pages show a Redis key's time to live, the way Redis browsers do: "no expiry", or a
 * compact duration ("23h 59m") whose exact seconds go in a hover title. Input is the reply of the
 * `TTL` command: -1 = the key has no expiry, -2 = the key does not exist.
 */

export interface KeyTtlDisplay {
  /** Short text for the table cell. */
  label: string;
  /** Exact value for the hover title. */
  title: string;
  state: "missing" | "persistent" | "expiring";
}

const UNITS: [suffix: string, seconds: number][] = [
  ["d", 86_400],
  ["h", 3_600],
  ["m", 60],
  ["s", 1],
];

/** `88_740` → "1d 0h"; `86_399` → "23h 59m"; `59` → "59s". Two most significant units at most. */
export function compactDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds === 0) return "0s";
  const firstIndex = UNITS.findIndex(([, size]) => seconds >= size);
  const parts: string[] = [];
  let rest = seconds;
  for (const [suffix, size] of UNITS.slice(firstIndex, firstIndex + 2)) {
    parts.push(`${Math.floor(rest / size)}${suffix}`);
    rest %= size;
  }
  return parts.join(" ");
}

export function describeKeyTtl(ttlSeconds: number): KeyTtlDisplay {
  if (ttlSeconds === -2) return { label: "key absent", title: "The key does not exist", state: "missing" };
  if (ttlSeconds < 0) return { label: "no expiry", title: "The key has no TTL (persists until deleted)", state: "persistent" };
  const exact = `${ttlSeconds.toLocaleString("en-US")} second${ttlSeconds === 1 ? "" : "s"}`;
  return { label: compactDuration(ttlSeconds), title: `Expires in ${exact}`, state: "expiring" };
}
