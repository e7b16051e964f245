import { BadRequestError } from "~/domain/errors";

/**
 * Durations as clients write them: whole seconds (`300`, `"300"`) or unit groups in descending
 * order (`"5m"`, `"1h30m"`, `"2d"`, `"1w2d"`). `0` means "none". Everything is whole seconds so the
 * run's expiry is exact and the normalised string round-trips.
 */

const UNIT_SECONDS = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const UNITS = Object.keys(UNIT_SECONDS) as Unit[];

const GROUPED = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
/** Far beyond any sensible TTL, but small enough that the arithmetic stays exact. */
const MAX_SECONDS = 100 * 365 * 86_400;

function malformed(field: string, value: unknown): BadRequestError {
  const shown = typeof value === "string" ? `'${value}'` : String(value);
  return new BadRequestError(
    `Invalid duration for ${field}: ${shown}. Use whole seconds or a duration such as "5m", "1h30m" or "2d".`,
    { field },
  );
}

/**
 * Seconds in `value`, or a {@link BadRequestError} naming `field` when it is not a duration.
 * Returns 0 for "none".
 */
export function parseDuration(value: string | number, field: string): number {
  const seconds = tryParseDuration(value);
  if (seconds === null) throw malformed(field, value);
  return seconds;
}

/** Like {@link parseDuration} but `null` instead of an error (for values stored before validation existed). */
export function tryParseDuration(value: string | number): number | null {
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= 0 && value <= MAX_SECONDS ? value : null;
  }
  const text = value.trim();
  if (text === "") return null;
  if (/^\d+$/.test(text)) return tryParseDuration(Number(text));
  const match = GROUPED.exec(text);
  if (!match) return null;
  let total = 0;
  UNITS.forEach((unit, i) => {
    const amount = match[i + 1];
    if (amount !== undefined) total += Number(amount) * UNIT_SECONDS[unit];
  });
  return total <= MAX_SECONDS ? total : null;
}

/** The canonical spelling of a positive number of seconds: `300` → `"5m"`, `5400` → `"1h30m"`. */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new RangeError(`formatDuration needs a positive whole number of seconds, got ${seconds}`);
  }
  let rest = seconds;
  let out = "";
  for (const unit of UNITS) {
    const amount = Math.floor(rest / UNIT_SECONDS[unit]);
    if (amount > 0) {
      out += `${amount}${unit}`;
      rest -= amount * UNIT_SECONDS[unit];
    }
  }
  return out;
}
