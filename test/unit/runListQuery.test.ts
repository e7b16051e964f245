import { describe, expect, it } from "vitest";
import { encodeRunCursor } from "~/domain/runCursor";
import { DEFAULT_PAGE_SIZE, parseRunListQuery } from "~/domain/runListQuery";

const now = new Date("2026-11-27T12:00:00.000Z");
const parse = (query: string) => parseRunListQuery(new URLSearchParams(query), now);

describe("runs.list query parameters", () => {
  it("reads the SDK's filters", () => {
    const cursor = encodeRunCursor({ createdAt: now, id: "abc" });
    const query = parse(
      `filter[status]=QUEUED,DELAYED&filter[taskIdentifier]=a,b&filter[version]=v1&filter[tag]=x&filter[isTest]=false&filter[createdAt][to]=${now.getTime()}&page[size]=10&page[after]=${cursor}`,
    );
    expect(query).toMatchObject({ statuses: ["QUEUED", "DELAYED"], taskIdentifiers: ["a", "b"], versions: ["v1"], tags: ["x"], isTest: false, to: now, pageSize: 10 });
    expect(query.after).toEqual({ createdAt: now, id: "abc" });
  });

  it("a period is a lower bound counted back from now; defaults are empty filters and 25 a page", () => {
    expect(parse("filter[createdAt][period]=1h").from).toEqual(new Date("2026-11-27T11:00:00.000Z"));
    expect(parse("")).toMatchObject({ statuses: null, from: null, pageSize: DEFAULT_PAGE_SIZE, after: null, before: null });
  });

  it("page[before] wins over page[after] (the SDK sends both when going back)", () => {
    const a = encodeRunCursor({ createdAt: now, id: "a" });
    const b = encodeRunCursor({ createdAt: now, id: "b" });
    expect(parse(`page[after]=${a}&page[before]=${b}`)).toMatchObject({ after: null, before: { id: "b" } });
  });

  it("statuses the SDK knows but Hotpath never writes match nothing rather than fail", () => {
    expect(parse("filter[status]=EXECUTING,TIMED_OUT").statuses).toEqual(["EXECUTING"]);
  });

  it.each([
    ["filter[status]=NOPE", "filter[status]"],
    ["filter[isTest]=maybe", "filter[isTest]"],
    ["page[size]=0", "page[size]"],
    ["page[size]=101", "page[size]"],
    ["page[after]=%%%", "page[after]"],
    ["filter[createdAt][from]=yesterday", "filter[createdAt][from]"],
    ["filter[createdAt][period]=soon", "filter[createdAt][period]"],
  ])("%s is a 400 naming %s", (query, field) => {
    expect(() => parse(query)).toThrow(expect.objectContaining({ status: 400, message: expect.stringContaining(field) }));
  });
});
