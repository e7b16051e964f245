import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { deploymentsPage } from "~/presenters/deployments.server";
import { loadPageData } from "~/presenters/pageData.server";
import { defaultRunsEnvironment, parseRunFilters, runsPage, type RunFilters } from "~/presenters/runs.server";
import { freePort } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

let project: TestProject;

const KINDS = ["STANDARD", "SCHEDULED", "AGENT"] as const;

function filters(query: Record<string, string>): RunFilters {
  const parsed = parseRunFilters(new URLSearchParams(query));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.filters;
}

beforeAll(async () => {
  project = await createTestProject();
  // 23 runs sharing ONE timestamp plus 10 later ones: the keyset must break ties by id.
  const tie = new Date(Date.UTC(2026, 0, 1));
  await prisma().taskRun.createMany({
    data: Array.from({ length: 33 }, (_, i) => ({
      friendlyId: `run_rm${String(i).padStart(3, "0")}`,
      environmentId: project.prod.id,
      taskIdentifier: i % 2 ? "odd-task" : "even-task",
      queue: "task/x",
      taskKind: KINDS[i % 3],
      status: i % 4 === 0 ? ("COMPLETED" as const) : ("QUEUED" as const),
      createdAt: i < 23 ? tie : new Date(tie.getTime() + (i - 22) * 1_000),
    })),
  });
  await prisma().taskRun.create({
    data: { friendlyId: "run_rm_dev", environmentId: project.dev.id, taskIdentifier: "even-task", queue: "q", status: "QUEUED" },
  });
});

async function walk(query: Record<string, string>, pageSize: number) {
  const seen: string[] = [];
  const pages: string[][] = [];
  let after: string | null = null;
  do {
    const page = await runsPage(project.prod.id, filters(after ? { ...query, after } : query), pageSize);
    pages.push(page!.runs.map((r) => r.friendlyId));
    seen.push(...page!.runs.map((r) => r.friendlyId));
    after = page!.olderCursor;
  } while (after && pages.length < 100);
  return { seen, pages };
}

describe("runs read model", () => {
  it("pages newest first over (createdAt, id) without skipping or repeating rows that share a timestamp", async () => {
    const { seen, pages } = await walk({}, 7);
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 7, 5]);
    expect(new Set(seen).size).toBe(33);
    const rows = await prisma().taskRun.findMany({
      where: { environmentId: project.prod.id },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { friendlyId: true },
    });
    expect(seen).toEqual(rows.map((r) => r.friendlyId));
  });

  it("goes back with the newer cursor to exactly the previous page, and the first page has none", async () => {
    const first = await runsPage(project.prod.id, filters({}), 7);
    expect(first!.newerCursor).toBeNull();
    const second = await runsPage(project.prod.id, filters({ after: first!.olderCursor! }), 7);
    const third = await runsPage(project.prod.id, filters({ after: second!.olderCursor! }), 7);
    const backToSecond = await runsPage(project.prod.id, filters({ before: third!.newerCursor! }), 7);
    expect(backToSecond!.runs.map((r) => r.id)).toEqual(second!.runs.map((r) => r.id));
    const backToFirst = await runsPage(project.prod.id, filters({ before: backToSecond!.newerCursor! }), 7);
    expect(backToFirst!.runs.map((r) => r.id)).toEqual(first!.runs.map((r) => r.id));
    expect(backToFirst!.newerCursor).toBeNull();
    expect(backToFirst!.olderCursor).not.toBeNull();
  });

  it("filters by kind, status and task, within the environment only", async () => {
    const agent = await walk({ kind: "AGENT" }, 5);
    expect(agent.seen).toHaveLength(11);
    const kinds = await prisma().taskRun.findMany({ where: { friendlyId: { in: agent.seen } }, select: { taskKind: true } });
    expect(new Set(kinds.map((k) => k.taskKind))).toEqual(new Set(["AGENT"]));

    const combined = await walk({ kind: "STANDARD", status: "COMPLETED", task: "even-task" }, 50);
    // i ≡ 0 (mod 3), i ≡ 0 (mod 4), i even: 0, 12, 24.
    expect(combined.seen.sort()).toEqual(["run_rm000", "run_rm012", "run_rm024"]);
    expect((await walk({ task: "nothing-like-this" }, 5)).seen).toEqual([]);
  });

  it("names the bad parameter of a malformed query", () => {
    expect(parseRunFilters(new URLSearchParams({ kind: "CRON" }))).toMatchObject({ ok: false, error: expect.stringMatching(/^Query parameter 'kind' \('CRON'\)/) });
    expect(parseRunFilters(new URLSearchParams({ after: "garbage!" }))).toMatchObject({ ok: false, error: expect.stringContaining("'after'") });
    expect(parseRunFilters(new URLSearchParams({ status: "", kind: "" }))).toMatchObject({ ok: true, filters: {} });
  });

  it("defaults to an environment that has runs, and is null for an unknown environment", async () => {
    const chosen = await defaultRunsEnvironment();
    const latest = await prisma().taskRun.findFirstOrThrow({ orderBy: { createdAt: "desc" }, select: { environmentId: true } });
    expect(chosen).toBe(latest.environmentId);
    expect(await runsPage("missing-environment", filters({}))).toBeNull();
  });
});

describe("deployments read model", () => {
  it("marks the current version and offers promote for newer, roll back for older, nothing for a failed deployment or in DEVELOPMENT", async () => {
    const fresh = await createTestProject();
    const v0 = await registerAndPromote({ environmentId: fresh.prod.id, version: "0", tasks: 1, promote: false });
    await registerAndPromote({ environmentId: fresh.prod.id, version: "1", tasks: 2, promote: false });
    const v2 = await registerAndPromote({ environmentId: fresh.prod.id, version: "2", tasks: 3 });
    await registerAndPromote({ environmentId: fresh.prod.id, version: "3", tasks: 1, promote: false });
    await prisma().workerDeployment.update({ where: { id: v0.deploymentId! }, data: { status: "FAILED" } });
    await registerAndPromote({ environmentId: fresh.dev.id, version: "d1", tasks: 1 });
    await registerAndPromote({ environmentId: fresh.dev.id, version: "d2", tasks: 1 });

    const page = await deploymentsPage();
    const prod = page.environments.find((e) => e.id === fresh.prod.id)!;
    expect(prod.currentVersion).toBe("2");
    expect(prod.versions.map((v) => [v.version, v.current, v.taskCount, v.status, v.promoteKind])).toEqual([
      ["3", false, 1, "DEPLOYED", "promote"],
      ["2", true, 3, "DEPLOYED", null],
      ["1", false, 2, "DEPLOYED", "rollback"],
      ["0", false, 1, "FAILED", null],
    ]);
    expect(prod.versions.find((v) => v.version === "2")?.workerId).toBe(v2.workerId);

    const dev = page.environments.find((e) => e.id === fresh.dev.id)!;
    expect(dev.currentVersion).toBe("d2");
    expect(dev.versions.every((v) => !v.promotable && v.status === null)).toBe(true);

    const focused = await deploymentsPage({ environmentId: fresh.prod.id });
    expect(focused.environments.map((e) => e.id)).toEqual([fresh.prod.id]);
  });
});

describe("admin pages when Postgres is down", () => {
  it("turn the outage into a 503 that says Postgres is unreachable", async () => {
    const pool = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${await freePort()}/none`, connectionTimeoutMillis: 1_000 });
    try {
      const thrown = await loadPageData("test", () => pool.query("SELECT 1")).catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(Response);
      expect((thrown as Response).status).toBe(503);
      expect(await (thrown as Response).text()).toMatch(/^Postgres is unreachable/);
    } finally {
      await pool.end();
    }
  });

  it("let other errors through unchanged", async () => {
    const bug = new TypeError("a bug");
    await expect(loadPageData("test", () => Promise.reject(bug))).rejects.toBe(bug);
  });
});
