import { BadRequestError } from "~/domain/errors";

/**
 * Trigger input that JSON and zod accept but that would be stored changed, or not at all (issue
 * 12, findings 6 and 8): dates outside what Postgres stores, calendar dates that do not exist,
 * task ids no deploy can ever register. Each is a 400 naming its field, never a silent change.
 */

/**
 * The latest instant a run's dates may take: Postgres' timestamp goes further, but a JavaScript
 * date past year 9999 is written with a six-digit year (`+010000-…`) that Postgres refuses.
 */
export const MAX_STORABLE_DATE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
/** The earliest: year 0001 (years before it are written with a sign as well). */
export const MIN_STORABLE_DATE = new Date("0001-01-01T00:00:00.000Z");

export const MAX_TASK_ID_LENGTH = 128;

// Control characters (C0, DEL, C1): invisible in logs and pages, and refused by deploy.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `id` cannot name a task, or null: the same rule deploy applies to a task's slug. */
export function taskIdProblem(id: string): string | null {
  if (id.trim() === "") return "must not be empty or only whitespace";
  if (CONTROL.test(id)) return "must not contain control characters";
  if (id.length > MAX_TASK_ID_LENGTH) return `must be at most ${MAX_TASK_ID_LENGTH} characters`;
  return null;
}

/** A {@link BadRequestError} naming `field` unless `date` is within what Postgres stores. */
export function assertStorableDate(date: Date, field: string): Date {
  if (!(date.getTime() <= MAX_STORABLE_DATE.getTime() && date.getTime() >= MIN_STORABLE_DATE.getTime())) {
    throw new BadRequestError(`${field} is outside the dates that can be stored (years 0001 to 9999, UTC)`, { field });
  }
  return date;
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(?:[Zz]|([+-])(\d{2}):?(\d{2}))?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeapYear(year) ? 1 : 0);
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * An ISO 8601 date (`2027-02-28`, `2027-02-28T09:30:00Z`, `…+02:00`) as an instant, or a
 * {@link BadRequestError} naming `field`: a date that does not exist (`2027-02-30`, hour 24) is
 * refused rather than rolled over, and so is an instant Postgres cannot store.
 */
export function parseIsoDate(text: string, field: string): Date {
  const invalid = () =>
    new BadRequestError(`Invalid date for ${field}: '${text}'. Use an ISO 8601 date such as "2027-02-28T09:30:00Z".`, { field });
  const match = ISO_DATE.exec(text.trim());
  if (!match) throw invalid();
  const n = (group: number) => (match[group] === undefined ? 0 : Number(match[group]));
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 8, 9].map(n);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw invalid();
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) throw invalid();
  const at = Date.parse(text.trim());
  if (Number.isNaN(at)) throw invalid();
  return assertStorableDate(new Date(at), field);
}

/** A JSON object (not an array or null), kept as sent: `__proto__` and every other key survive. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
