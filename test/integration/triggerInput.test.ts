import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { bearer, inProcess, type ApiResult } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * Issue 12, findings 6 and 8: trigger input that used to be a 500 (dates Postgres cannot store)
 * or was silently changed (1e400 → null, a dropped `__proto__`, calendar roll-over, task ids no
 * deploy can register) is a 400 naming the field, or stored exactly as sent.
 */

let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" }, ttl: "5m" }] });
});

const trigger = (slug: string, body: unknown): Promise<ApiResult> =>
  inProcess({ path: `/api/v1/tasks/${encodeURIComponent(slug)}/trigger`, headers: bearer(project.prod.apiKey), body });

describe("dates", () => {
  it.each(["9999-12-31T23:59:59-12:00", "+010000-01-01T00:00:00Z", "99999-01-01"])("delay %s (past year 9999) is a 400 naming options.delay", async (delay) => {
    const result = await trigger("email", { options: { delay } });
    expect(result.status, JSON.stringify(result.body)).toBe(400);
    expect(result.body.error).toMatch(/options\.delay/);
  });

  it("a delay whose run TTL ends past year 9999 is a 400 naming options.ttl", async () => {
    const result = await trigger("email", { options: { delay: "9999-12-31T23:58:00Z", ttl: "1h" } });
    expect(result).toMatchObject({ status: 400, body: { error: expect.stringMatching(/options\.ttl/) } });
  });

  it.each(["2027-02-30", "2027-02-29T10:00:00Z", "2027-13-01", "2027-04-31T00:00:00Z", "2027-01-01T24:00:00Z", "2027-01-01T10:60:00Z"])(
    "an invalid calendar date %s is a 400, not rolled over",
    async (delay) => {
      const result = await trigger("email", { options: { delay } });
      expect(result).toMatchObject({ status: 400, body: { error: expect.stringMatching(/Invalid date for options\.delay/) } });
    },
  );

  it("a real date far ahead (but storable) is accepted: 2028-02-29 and 9999-12-31T00:00:00Z", async () => {
    for (const delay of ["2028-02-29", "9999-12-31T00:00:00Z"]) {
      const result = await trigger("email", { options: { delay } });
      expect(result.status, `${delay}: ${JSON.stringify(result.body)}`).toBe(200);
    }
  });
});

describe("input is never silently changed", () => {
  it.each([
    ['{"payload":{"n":1e400}}', "payload.n"],
    ['{"payload":[-1e999]}', "payload[0]"],
    ['{"options":{"metadata":{"big":1e309}}}', "options.metadata.big"],
  ])("a number outside double range (%s) is a 400 naming %s", async (raw, path) => {
    const result = await trigger("email", raw);
    expect(result.status, JSON.stringify(result.body)).toBe(400);
    expect(result.body.error).toContain(path);
  });

  it("a __proto__ key in options.metadata is stored exactly, as it is in the payload", async () => {
    const raw = '{"payload":{"__proto__":{"a":1}},"options":{"metadata":{"__proto__":{"b":2},"c":3}}}';
    const result = await trigger("email", raw);
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    const run = await inProcess({ path: `/api/v1/runs/${result.body.id}`, headers: bearer(project.prod.apiKey) });
    expect(JSON.stringify(run.body.payload)).toBe('{"__proto__":{"a":1}}');
    const stored = await prisma().$queryRaw<{ metadata: string }[]>`SELECT "metadata"::text AS metadata FROM "TaskRun" WHERE "friendlyId" = ${result.body.id} OR "id" = ${result.body.id}`;
    expect(stored[0].metadata).toBe('{"c": 3, "__proto__": {"b": 2}}');
  });

  it.each([" ", "   ", "\t", "email\u0001", "a\u007fb", "line\nbreak", "\u0085"])("task id %j (blank or with control characters) is a 400, as deploy refuses it", async (slug) => {
    const before = await prisma().taskRun.count();
    const result = await trigger(slug, {});
    expect(result.status, JSON.stringify(result.body)).toBe(400);
    expect(result.body.error).toMatch(/Invalid task id/);
    expect(await prisma().taskRun.count()).toBe(before);
  });

  it("deploy refuses the same task ids (control characters)", async () => {
    const result = await inProcess({
      path: "/api/v1/deployments",
      headers: bearer(project.prod.apiKey),
      body: { version: "ctl", tasks: [{ slug: "email\u0001" }] },
    });
    expect(result).toMatchObject({ status: 400, body: { error: expect.stringMatching(/tasks\[0\]\.slug must not contain control characters/) } });
  });
});
