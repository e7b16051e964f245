import { decodeRunCursor, type RunCursor } from "~/domain/runCursor";
import { parseDuration } from "~/domain/durations";
import { BadRequestError } from "~/domain/errors";
import { RUN_STATUSES, type RunStatus } from "~/domain/runSchedule";

/**
 * `GET /api/v1/runs` query parameters as the SDK writes them (`filter[status]=A,B`,
 * `filter[createdAt][from]=<ms>`, `page[size]`, `page[after]`, …), read into a typed query. Every
 * malformed value is a 400 naming its parameter.
 */

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
const MAX_LIST_VALUES = 50;
/** Statuses the SDK can ask for that no Hotpath run ever has: the filter simply matches nothing. */
const SDK_ONLY_STATUSES = ["DEQUEUED", "WAITING", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"];

export interface RunListQuery {
  statuses: RunStatus[] | null;
  taskIdentifiers: string[] | null;
  versions: string[] | null;
  /** `filter[externalDeploymentId]`: runs pinned to one of these ids. */
  externalDeploymentIds: string[] | null;
  tags: string[] | null;
  isTest: boolean | null;
  from: Date | null;
  to: Date | null;
  pageSize: number;
  after: RunCursor | null;
  before: RunCursor | null;
}

function list(params: URLSearchParams, name: string): string[] | null {
  const raw = params.get(name);
  if (raw === null) return null;
  const values = raw.split(",").map((v) => v.trim()).filter((v) => v !== "");
  if (values.length === 0 || values.length > MAX_LIST_VALUES || values.some((v) => v.length > 256)) {
    throw new BadRequestError(`Invalid ${name}: give 1–${MAX_LIST_VALUES} comma-separated values`, { field: name });
  }
  return values;
}

function statuses(params: URLSearchParams): RunStatus[] | null {
  const values = list(params, "filter[status]");
  if (values === null) return null;
  for (const value of values) {
    if (!(RUN_STATUSES as readonly string[]).includes(value) && !SDK_ONLY_STATUSES.includes(value)) {
      throw new BadRequestError(`Invalid filter[status]: '${value}' is not a run status`, { field: "filter[status]" });
    }
  }
  return values.filter((v): v is RunStatus => (RUN_STATUSES as readonly string[]).includes(v));
}

/** A `from`/`to` bound: epoch milliseconds (what the SDK sends) or an ISO date. */
function instant(params: URLSearchParams, name: string): Date | null {
  const raw = params.get(name);
  if (raw === null) return null;
  const at = /^\d+$/.test(raw) ? new Date(Number(raw)) : new Date(raw);
  if (Number.isNaN(at.getTime())) throw new BadRequestError(`Invalid ${name}: '${raw}' is not a timestamp in milliseconds or an ISO date`, { field: name });
  return at;
}

function cursor(params: URLSearchParams, name: string): RunCursor | null {
  const raw = params.get(name);
  if (raw === null) return null;
  const decoded = decodeRunCursor(raw);
  if (!decoded) throw new BadRequestError(`Invalid ${name}: not a cursor from a previous page`, { field: name });
  return decoded;
}

function isTest(params: URLSearchParams): boolean | null {
  const raw = params.get("filter[isTest]");
  if (raw === null) return null;
  if (raw !== "true" && raw !== "false") throw new BadRequestError("Invalid filter[isTest]: use true or false", { field: "filter[isTest]" });
  return raw === "true";
}

function pageSize(params: URLSearchParams): number {
  const raw = params.get("page[size]");
  if (raw === null) return DEFAULT_PAGE_SIZE;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new BadRequestError(`Invalid page[size]: use a whole number from 1 to ${MAX_PAGE_SIZE}`, { field: "page[size]" });
  }
  return size;
}

export function parseRunListQuery(params: URLSearchParams, now: Date): RunListQuery {
  const period = params.get("filter[createdAt][period]");
  let from = instant(params, "filter[createdAt][from]");
  if (period !== null) {
    const seconds = parseDuration(period, "filter[createdAt][period]");
    const since = new Date(now.getTime() - seconds * 1000);
    from = from && from > since ? from : since;
  }
  // The SDK's getPreviousPage() keeps the page[after] it came with and adds page[before]: going back wins.
  const before = cursor(params, "page[before]");
  const after = before ? null : cursor(params, "page[after]");
  return {
    statuses: statuses(params),
    taskIdentifiers: list(params, "filter[taskIdentifier]"),
    versions: list(params, "filter[version]"),
    externalDeploymentIds: list(params, "filter[externalDeploymentId]"),
    tags: list(params, "filter[tag]"),
    isTest: isTest(params),
    from,
    to: instant(params, "filter[createdAt][to]"),
    pageSize: pageSize(params),
    after,
    before,
  };
}
