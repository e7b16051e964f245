import net from "node:net";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_UNAVAILABLE, errorResponse } from "~/api/errors";
import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { prisma } from "~/db.server";
import { PrismaClient } from "~/generated/prisma/client.ts";
import { authenticateApiKey } from "~/services/apiKeyAuth.server";
import { bearer, overHttp, throughRemix, type ApiCall } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { closedPort } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * A Postgres outage is a 503 that says so, in both lanes and at every depth of the hot path (key
 * lookup, resolver miss, run insert); errors are recognised whichever layer raised them (pg, the
 * Prisma adapter, Prisma). Only a bug is a 500.
 */

let deadDatabaseUrl: string;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("recognising an unreachable database", () => {
  beforeAll(async () => {
    deadDatabaseUrl = `postgresql://postgres@127.0.0.1:${await closedPort()}/hotpath`;
  });

  it("pg connection refused, Prisma P1001 and raw-query P2010 over a dead adapter", async () => {
    const pool = new pg.Pool({ connectionString: deadDatabaseUrl, connectionTimeoutMillis: 1_000 });
    const client = new PrismaClient({ adapter: new PrismaPg(pool) });
    try {
      expect(isDatabaseUnavailable(await rejection(pool.query("SELECT 1")))).toBe(true);
      expect(isDatabaseUnavailable(await rejection(client.organization.count()))).toBe(true);
      expect(isDatabaseUnavailable(await rejection(client.$queryRaw`SELECT 1`))).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it("a server that accepts connections but never answers (connect timeout)", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as net.AddressInfo;
    const pool = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${port}/x`, connectionTimeoutMillis: 300 });
    try {
      expect(isDatabaseUnavailable(await rejection(pool.query("SELECT 1")))).toBe(true);
    } finally {
      await pool.end();
      silent.close();
    }
  });

  it("a constraint violation or a bug is not an outage: the bug is a 500 without details", async () => {
    const { projectId } = await createTestProject();
    const duplicate = await rejection(
      prisma().runtimeEnvironment.create({ data: { projectId, slug: "dev", type: "DEVELOPMENT" } }),
    );
    expect(isDatabaseUnavailable(duplicate)).toBe(false);
    const response = errorResponse(new TypeError("x is undefined"), { method: "POST", path: "/api/v1/x" });
    expect(response.status).toBe(500);
    expect(JSON.parse(response.body)).toEqual({ error: "Internal server error" });
    expect(errorResponse(await rejection(new pg.Pool({ connectionString: deadDatabaseUrl }).query("SELECT 1")), { method: "GET", path: "/" }).status).toBe(503);
  });
});

describe("a Postgres outage through both lanes", () => {
  let server: AppServer;
  let project: TestProject;
  let coldKeyProject: TestProject;
  const originalUrl = process.env.DATABASE_URL;

  beforeAll(async () => {
    deadDatabaseUrl ??= `postgresql://postgres@127.0.0.1:${await closedPort()}/hotpath`;
    project = await createTestProject();
    coldKeyProject = await createTestProject();
    // Warm what can be warm while Postgres is up: the prod key and the prod environment's tasks.
    await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" } }] });
    await authenticateApiKey(project.prod.apiKey);
    await authenticateApiKey(project.dev.apiKey);
    // With the trigger buffer off: these are the answers without it (a cached trigger would be
    // buffered and answered 200; triggerBuffer.test.ts covers that and its own 503s).
    server = await startAppServer({ DATABASE_URL: deadDatabaseUrl, TRIGGER_BUFFER_ENABLED: "false" });
    // The Remix build in this process reads its configuration on first use: it gets the dead database too.
    process.env.DATABASE_URL = deadDatabaseUrl;
    process.env.TRIGGER_BUFFER_ENABLED = "false";
  }, 60_000);

  afterAll(async () => {
    process.env.DATABASE_URL = originalUrl;
    delete process.env.TRIGGER_BUFFER_ENABLED;
    await server?.stop();
  });

  const cases: { name: string; call: () => ApiCall }[] = [
    {
      name: "the key lookup (key not cached)",
      call: () => ({ path: "/api/v1/tasks/email/trigger", headers: bearer(coldKeyProject.prod.apiKey), body: {} }),
    },
    {
      name: "the resolver's miss (key cached, task metadata not)",
      call: () => ({ path: "/api/v1/tasks/email/trigger", headers: bearer(project.dev.apiKey), body: {} }),
    },
    {
      name: "the run insert (key and task metadata cached)",
      call: () => ({ path: "/api/v1/tasks/email/trigger", headers: bearer(project.prod.apiKey), body: {} }),
    },
    { name: "reading a run", call: () => ({ path: "/api/v1/runs/run_abc", headers: bearer(project.prod.apiKey) }) },
    { name: "a deploy", call: () => ({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { version: "v2", tasks: [] } }) },
  ];

  for (const testCase of cases) {
    it(`${testCase.name} → 503 with a clear message`, async () => {
      const lean = await overHttp(server.url, testCase.call());
      const remix = await throughRemix(testCase.call());
      expect(lean).toMatchObject({ status: 503, body: { error: DATABASE_UNAVAILABLE } });
      expect({ status: remix.status, body: remix.body }).toEqual({ status: lean.status, body: lean.body });
    });
  }

  it("requests that need no database still work: a malformed key is a 401, an unknown path a 404", async () => {
    expect((await overHttp(server.url, { path: "/api/v1/tasks/email/trigger", headers: bearer("nope"), body: {} })).status).toBe(401);
    expect((await overHttp(server.url, { path: "/api/v2/anything" })).status).toBe(404);
  });
});
