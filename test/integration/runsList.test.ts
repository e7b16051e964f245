import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { legacyKindParam, parseRunFilters, runsPage, type RunFilters } from "~/presenters/runs.server";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * The runs list for daily use (issue 19 item 5): the task filter is a case-insensitive substring
 * (wildcards taken literally), a time range, the count of every match, and the old `source`
 * parameter read as `kind`.
 */

let project: TestProject;

function filters(query: Record<string, string>): RunFilters {
  const parsed = parseRunFilters(new URLSearchParams(query));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.filters;
}

const ids = async (query: Record<string, string>) => (await runsPage(project.prod.id, filters(query), 50))!.runs.map((r) => r.friendlyId).sort();

beforeAll(async () => {
  project = await createTestProject();
  const now = Date.now();
  const runs: [id: string, task: string, minutesAgo: number][] = [
    ["run_l1", "send-welcome-email", 1],
    ["run_l2", "send_receipt", 5],
    ["run_l3", "sendxreceipt", 30],
    ["run_l4", "Nightly-Report", 60 * 3],
    ["run_l5", "100%-done", 60 * 24 * 3],
  ];
  await prisma().taskRun.createMany({
    data: runs.map(([friendlyId, taskIdentifier, minutesAgo]) => ({
      friendlyId,
      environmentId: project.prod.id,
      taskIdentifier,
      queue: "q",
      status: "QUEUED" as const,
      createdAt: new Date(now - minutesAgo * 60_000),
    })),
  });
});

describe("runs list filters", () => {
  it("finds tasks containing the text, in any case", async () => {
    expect(await ids({ task: "email" })).toEqual(["run_l1"]);
    expect(await ids({ task: "REPORT" })).toEqual(["run_l4"]);
    expect(await ids({ task: "send" })).toEqual(["run_l1", "run_l2", "run_l3"]);
  });

  it("takes % and _ literally", async () => {
    expect(await ids({ task: "send_" })).toEqual(["run_l2"]);
    expect(await ids({ task: "%" })).toEqual(["run_l5"]);
  });

  it("limits to a time range before now", async () => {
    expect(await ids({ period: "15m" })).toEqual(["run_l1", "run_l2"]);
    expect(await ids({ period: "1h" })).toEqual(["run_l1", "run_l2", "run_l3"]);
    expect(await ids({ period: "24h" })).toEqual(["run_l1", "run_l2", "run_l3", "run_l4"]);
    expect(parseRunFilters(new URLSearchParams({ period: "2h" }))).toMatchObject({ ok: false, error: expect.stringContaining("'period'") });
  });

  it("counts every matching run across pages", async () => {
    const page = await runsPage(project.prod.id, filters({ task: "send" }), 2);
    expect(page!.runs).toHaveLength(2);
    expect(page!.matching).toEqual({ count: 3, capped: false });
    expect((await runsPage(project.prod.id, filters({}), 2))!.matching).toEqual({ count: 5, capped: false });
  });

  it("reads the old `source` parameter as `kind`", () => {
    expect(String(legacyKindParam(new URLSearchParams({ env: "e", source: "AGENT" })))).toBe("env=e&kind=AGENT");
    expect(String(legacyKindParam(new URLSearchParams({ env: "e", source: "" })))).toBe("env=e");
    expect(legacyKindParam(new URLSearchParams({ env: "e", kind: "AGENT" }))).toBeNull();
  });
});
