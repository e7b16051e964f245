import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetEnvForTests } from "~/env.server";
import { webConcurrency } from "~/services/webCluster.server";
import { startAppServer, type AppServer } from "../support/appServer";
import { bearer, overHttp } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * WEB_CONCURRENCY=2 (decision 0077): one port served by two worker processes of node:cluster,
 * /metrics adding both up (prom-client's aggregator), and a SIGTERM that drains both and exits 0.
 */

const TOKEN = "cluster-metrics-token";
let server: AppServer;
let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: [{ slug: "send-email" }] });
  server = await startAppServer({ WEB_CONCURRENCY: "2", METRICS_TOKEN: TOKEN, LOG_LEVEL: "warn" });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

/** The sum of one metric's samples in a Prometheus text body, over the given label filter. */
function sample(body: string, name: string, labels = ""): number {
  return body
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

async function scrape(): Promise<string> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  return response.text();
}

describe("WEB_CONCURRENCY=2", () => {
  it("serves one port from two worker processes, and /metrics adds both up whichever answers", async () => {
    // Two workers, each listening on its own (the primary logs it forked them).
    await expect.poll(() => [...server.output().matchAll(/Hotpath worker (\d+) listening/g)].length, { timeout: 60_000 }).toBe(2);
    expect(server.output()).toMatch(/2 server workers \(WEB_CONCURRENCY\)/);

    const before = sample(await scrape(), "hotpath_resolve_duration_seconds_count");
    const triggers = 40;
    for (let i = 0; i < triggers; i++) {
      const response = await overHttp(server.url, { path: "/api/v1/tasks/send-email/trigger", headers: bearer(project.prod.apiKey), body: { payload: { i } } });
      expect(response.status).toBe(200);
    }
    const scrapes = await Promise.all(Array.from({ length: 4 }, () => scrape()));
    for (const body of scrapes) {
      expect(sample(body, "hotpath_resolve_duration_seconds_count") - before).toBe(triggers);
    }
    // Both processes' default metrics are in the sum: two event loops' worth of handles, for instance.
    expect(sample(scrapes[0], "nodejs_active_handles_total")).toBeGreaterThan(0);
    expect(sample(scrapes[0], "process_cpu_user_seconds_total")).toBeGreaterThan(0);
  }, 120_000);

  it("stops on SIGTERM: both workers drain and the primary exits 0", async () => {
    const exited = new Promise<number | null>((resolve) => server.process.once("exit", (code) => resolve(code)));
    await server.stop();
    expect(await exited).toBe(0);
    expect(server.output()).not.toMatch(/Shutdown incomplete/);
  }, 60_000);
});

describe("webConcurrency()", () => {
  it("is the setting when given, else every core in production and one otherwise", () => {
    const saved = { NODE_ENV: process.env.NODE_ENV, WEB_CONCURRENCY: process.env.WEB_CONCURRENCY };
    try {
      const at = (NODE_ENV: string, WEB_CONCURRENCY?: string) => {
        Object.assign(process.env, { NODE_ENV });
        if (WEB_CONCURRENCY === undefined) delete process.env.WEB_CONCURRENCY;
        else process.env.WEB_CONCURRENCY = WEB_CONCURRENCY;
        resetEnvForTests();
        return webConcurrency();
      };
      expect(at("production")).toBe(availableParallelism());
      expect(at("development")).toBe(1);
      expect(at("test")).toBe(1);
      expect(at("development", "3")).toBe(3);
      expect(at("production", "1")).toBe(1);
    } finally {
      Object.assign(process.env, saved);
      if (saved.WEB_CONCURRENCY === undefined) delete process.env.WEB_CONCURRENCY;
      resetEnvForTests();
    }
  });
});
