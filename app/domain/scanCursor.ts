/** Redis SCAN/HSCAN cursors are unsigned 64-bit integers; a larger one is "ERR invalid cursor". */
const MAX_CURSOR = 2n ** 64n - 1n;

/** Whether `value` is a cursor Redis accepts: decimal digits, at most 2^64 − 1. */
export function isScanCursor(value: string): boolean {
  return /^\d{1,20}$/.test(value) && BigInt(value) <= MAX_CURSOR;
}

export const SCAN_CURSOR_MESSAGE = "must be a SCAN cursor (a whole number below 2^64)";
