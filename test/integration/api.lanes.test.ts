import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { generateApiKey } from "~/domain/apiKeys";
import { signatureHeader } from "~/services/webhookSignature.server";
import { bearer, deployOverHttp, overHttp, throughRemix, type ApiCall, type ApiResult } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * docs/decisions/0017-two-lanes-for-the-api.md: the lean lane (server.ts → app/api/node.ts, over real HTTP) and the
 * Remix resource routes (app/routes/api.*) run the same table of cases and must answer with the
 * same status, content type and body (generated run ids aside). The table covers every status
 * code of every route.
 */

type Lane = "lean" | "remix";

let server: AppServer;
let project: TestProject;
let devRunId: string;
let prodRunId: string;

const V1_TASKS = [
  { slug: "email", queue: { name: "emails", concurrencyLimit: 5 }, ttl: "5m" },
  { slug: "nightly", queue: { name: "cron" }, ttl: 3600, triggerSource: "SCHEDULED" },
  { slug: "agent", triggerSource: "AGENT" },
];

function send(lane: Lane, call: ApiCall): Promise<ApiResult> {
  return lane === "lean" ? overHttp(server.url, call) : throughRemix(call);
}

/** Status, content type and body, with generated run ids replaced: what both lanes must agree on. */
function comparable(result: ApiResult) {
  const text = JSON.stringify(result.body).replace(/run_[0-9a-z]{24}/g, "run_<id>");
  return { status: result.status, contentType: result.headers["content-type"], body: JSON.parse(text) };
}

function signed(body: unknown, options: { secret?: string; timestamp?: number; target?: string } = {}) {
  const raw = JSON.stringify(body);
  const header = signatureHeader(
    options.secret ?? project.webhookSecret,
    { method: "POST", target: options.target ?? "/api/v1/deployments", body: raw },
    options.timestamp,
  );
  return { body: raw, headers: { "x-hotpath-signature": header } };
}

beforeAll(async () => {
  project = await createTestProject();
  server = await startAppServer();
  await deployOverHttp(server.url, project.prod.apiKey, { version: "v1", tasks: V1_TASKS });
  const devRun = await overHttp(server.url, {
    path: "/api/v1/tasks/email/trigger",
    headers: bearer(project.dev.apiKey),
    body: { payload: { to: "dev@example.com" } },
  });
  devRunId = devRun.body.id;
  const prodRun = await overHttp(server.url, {
    path: "/api/v1/tasks/email/trigger",
    headers: bearer(project.prod.apiKey),
    body: { payload: { to: "a@example.com" }, options: { tags: ["welcome"], idempotencyKey: "setup-run" } },
  });
  prodRunId = prodRun.body.id;
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

interface Case {
  name: string;
  status: number;
  call: (lane: Lane) => ApiCall;
}

const trigger = (slug: string, body: unknown, headers: Record<string, string> = {}) => (): ApiCall => ({
  path: `/api/v1/tasks/${slug}/trigger`,
  headers: { ...bearer(project.prod.apiKey), ...headers },
  body,
});

const CASES: Case[] = [
  // POST /api/v1/tasks/:taskId/trigger
  { name: "trigger: 200 with a new run", status: 200, call: trigger("email", { payload: { n: 1 } }) },
  { name: "trigger: 200 for a task absent from the current worker", status: 200, call: trigger("not-deployed", {}) },
  { name: "trigger: 200 with an empty body", status: 200, call: trigger("email", "") },
  {
    name: "trigger: 200 for a new idempotency key",
    status: 200,
    call: (lane) => trigger("email", {}, { "idempotency-key": `lanes-${lane}` })(),
  },
  {
    name: "trigger: 200 isCached for a repeated idempotency key",
    status: 200,
    call: (lane) => trigger("email", { options: { idempotencyKey: `lanes-${lane}` } })(),
  },
  {
    name: "trigger: 401 without credentials",
    status: 401,
    call: () => ({ path: "/api/v1/tasks/email/trigger", body: {} }),
  },
  {
    name: "trigger: 401 for a malformed key",
    status: 401,
    call: () => ({ path: "/api/v1/tasks/email/trigger", headers: bearer("not-a-key"), body: {} }),
  },
  {
    name: "trigger: 401 for an unknown key",
    status: 401,
    call: () => ({ path: "/api/v1/tasks/email/trigger", headers: bearer(generateApiKey("PRODUCTION")), body: {} }),
  },
  { name: "trigger: 400 for invalid JSON", status: 400, call: trigger("email", "{not json") },
  {
    name: "trigger: 400 for more than 10 tags",
    status: 400,
    call: trigger("email", { options: { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) } }),
  },
  { name: "trigger: 400 for a tag over 128 characters", status: 400, call: trigger("email", { options: { tags: ["x".repeat(129)] } }) },
  { name: "trigger: 400 for a malformed ttl", status: 400, call: trigger("email", { options: { ttl: "5 minutes" } }) },
  { name: "trigger: 400 for a malformed delay", status: 400, call: trigger("email", { options: { delay: "soon" } }) },
  {
    name: "trigger: 400 when the Idempotency-Key header and the option differ",
    status: 400,
    call: trigger("email", { options: { idempotencyKey: "a" } }, { "idempotency-key": "b" }),
  },
  {
    name: "trigger: 422 locked to an unknown version",
    status: 422,
    call: trigger("email", { options: { lockToVersion: "v404" } }),
  },
  {
    name: "trigger: 422 locked with a queue the version does not use",
    status: 422,
    call: trigger("email", { options: { lockToVersion: "v1", queue: { name: "elsewhere" } } }),
  },
  {
    name: "trigger: 422 locked to a version without the task",
    status: 422,
    call: trigger("missing", { options: { lockToVersion: "v1" } }),
  },
  {
    name: "trigger: 422 locked, task without a default queue",
    status: 422,
    call: trigger("agent", { options: { lockToVersion: "v1" } }),
  },
  {
    name: "trigger: 413 when Content-Length is over the limit",
    status: 413,
    call: trigger("email", { payload: "x".repeat(1_048_577) }),
  },
  { name: "trigger: 405 for GET", status: 405, call: () => ({ method: "GET", path: "/api/v1/tasks/email/trigger", headers: bearer(project.prod.apiKey) }) },

  // GET /api/v1/runs/:runId
  { name: "runs: 200 with the run", status: 200, call: () => ({ path: `/api/v1/runs/${prodRunId}`, headers: bearer(project.prod.apiKey) }) },
  { name: "runs: 401 without credentials", status: 401, call: () => ({ path: `/api/v1/runs/${prodRunId}` }) },
  { name: "runs: 404 for an unknown run", status: 404, call: () => ({ path: "/api/v1/runs/run_doesnotexist", headers: bearer(project.prod.apiKey) }) },
  { name: "runs: 404 for a malformed id", status: 404, call: () => ({ path: "/api/v1/runs/%E2%9C%93", headers: bearer(project.prod.apiKey) }) },
  {
    name: "runs: 404 when a prod key reads a dev run",
    status: 404,
    call: () => ({ path: `/api/v1/runs/${devRunId}`, headers: bearer(project.prod.apiKey) }),
  },
  { name: "runs: 405 for POST", status: 405, call: () => ({ method: "POST", path: `/api/v1/runs/${prodRunId}`, headers: bearer(project.prod.apiKey), body: {} }) },

  // POST /api/v1/deployments
  {
    name: "deployments: 200 re-sending the same version and content (same ids)",
    status: 200,
    call: () => ({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { version: "v1", tasks: V1_TASKS } }),
  },
  {
    name: "deployments: 200 signed",
    status: 200,
    // Each lane signs its own body (`sentBy` is ignored): the same signature twice would be a replay.
    call: (lane) => ({ path: "/api/v1/deployments", ...signed({ environment: "prod", version: "v-signed", tasks: V1_TASKS, sentBy: lane }) }),
  },
  {
    name: "deployments: 409 for the same version with other content",
    status: 409,
    call: () => ({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { version: "v1", tasks: [{ slug: "email" }] } }),
  },
  { name: "deployments: 401 without credentials", status: 401, call: () => ({ path: "/api/v1/deployments", body: { version: "v2", tasks: [] } }) },
  {
    name: "deployments: 401 signed with the wrong secret",
    status: 401,
    call: () => ({ path: "/api/v1/deployments", ...signed({ environment: "prod", version: "v2", tasks: [] }, { secret: "whsec_wrong" }) }),
  },
  {
    name: "deployments: 401 for a stale signature",
    status: 401,
    call: () => ({
      path: "/api/v1/deployments",
      ...signed({ environment: "prod", version: "v2", tasks: [] }, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
    }),
  },
  {
    name: "deployments: 401 for a tampered body",
    status: 401,
    call: () => {
      const { headers } = signed({ environment: "prod", version: "v2", tasks: [] });
      return { path: "/api/v1/deployments", headers, body: JSON.stringify({ environment: "prod", version: "v3", tasks: [] }) };
    },
  },
  {
    name: "deployments: 400 signed without an environment",
    status: 400,
    call: () => ({ path: "/api/v1/deployments", ...signed({ version: "v2", tasks: [] }) }),
  },
  {
    name: "deployments: 400 for a body without a version",
    status: 400,
    call: () => ({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { tasks: [] } }),
  },
  {
    name: "deployments: 400 for a malformed task ttl",
    status: 400,
    call: () => ({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { version: "v-bad", tasks: [{ slug: "a", ttl: "soon" }] } }),
  },
  {
    name: "deployments: 404 when a prod key deploys to dev",
    status: 404,
    call: () => ({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { environment: "dev", version: "v2", tasks: [] } }),
  },
  {
    name: "deployments: 413 when the body is over the limit",
    status: 413,
    call: () => ({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { version: "v2", tasks: [], pad: "x".repeat(1_048_576) } }),
  },

  // POST /api/v1/deployments/:version/promote
  {
    name: "promote: 200 for the version that is already current",
    status: 200,
    call: () => ({ path: "/api/v1/deployments/v1/promote", headers: bearer(project.prod.apiKey), body: {} }),
  },
  { name: "promote: 401 without credentials", status: 401, call: () => ({ path: "/api/v1/deployments/v1/promote", body: {} }) },
  {
    name: "promote: 404 for an unknown version",
    status: 404,
    call: () => ({ path: "/api/v1/deployments/v404/promote", headers: bearer(project.prod.apiKey), body: {} }),
  },
  {
    name: "promote: 404 when a prod key promotes in dev",
    status: 404,
    call: () => ({ path: "/api/v1/deployments/v1/promote", headers: bearer(project.prod.apiKey), body: { environment: "dev" } }),
  },
  {
    name: "promote: 422 in DEVELOPMENT",
    status: 422,
    call: () => ({ path: "/api/v1/deployments/v1/promote", headers: bearer(project.dev.apiKey), body: {} }),
  },
  {
    name: "promote: 400 for invalid JSON",
    status: 400,
    call: () => ({ path: "/api/v1/deployments/v1/promote", headers: bearer(project.prod.apiKey), body: "[" }),
  },

  // The runs API the SDK calls (issue 13)
  { name: "runs v3: 200 for a run of the key's environment", status: 200, call: () => ({ path: `/api/v3/runs/${prodRunId}`, headers: bearer(project.prod.apiKey) }) },
  { name: "runs v3: 404 for another environment's run", status: 404, call: () => ({ path: `/api/v3/runs/${devRunId}`, headers: bearer(project.prod.apiKey) }) },
  { name: "runs v3: 401 without credentials", status: 401, call: () => ({ path: `/api/v3/runs/${prodRunId}` }) },
  { name: "runs v3: 405 for PUT", status: 405, call: () => ({ method: "PUT", path: `/api/v3/runs/${prodRunId}`, headers: bearer(project.prod.apiKey), body: {} }) },
  { name: "runs list: 200 filtered by tag", status: 200, call: () => ({ path: "/api/v1/runs?filter[tag]=welcome&page[size]=5", headers: bearer(project.prod.apiKey) }) },
  { name: "runs list: 400 for a page size of 0", status: 400, call: () => ({ path: "/api/v1/runs?page[size]=0", headers: bearer(project.prod.apiKey) }) },
  { name: "cancel: 404 for another environment's run", status: 404, call: () => ({ path: `/api/v2/runs/${devRunId}/cancel`, headers: bearer(project.prod.apiKey), body: {} }) },
  { name: "reschedule: 400 for a run that is not DELAYED", status: 400, call: () => ({ path: `/api/v1/runs/${prodRunId}/reschedule`, headers: bearer(project.prod.apiKey), body: { delay: "1h" } }) },
  { name: "replay: 200 with a new run", status: 200, call: () => ({ path: `/api/v1/runs/${prodRunId}/replay`, headers: bearer(project.prod.apiKey), body: {} }) },
  { name: "tags: 400 for a tag over 128 characters", status: 400, call: () => ({ path: `/api/v1/runs/${prodRunId}/tags`, headers: bearer(project.prod.apiKey), body: { tags: ["x".repeat(129)] } }) },
  { name: "metadata: 200 replacing the metadata", status: 200, call: () => ({ method: "PUT", path: `/api/v1/runs/${prodRunId}/metadata`, headers: bearer(project.prod.apiKey), body: { metadata: { step: 1 } } }) },
  { name: "idempotency reset: 404 for a key no run has", status: 404, call: () => ({ path: "/api/v1/idempotencyKeys/none/reset", headers: bearer(project.prod.apiKey), body: { taskIdentifier: "email" } }) },
  { name: "deployments list: 200", status: 200, call: () => ({ path: "/api/v1/deployments?page[size]=5", headers: bearer(project.prod.apiKey) }) },
  { name: "deployments current: 200", status: 200, call: () => ({ path: "/api/v1/deployments/current", headers: bearer(project.prod.apiKey) }) },
  { name: "deployments current: 404 in DEVELOPMENT", status: 404, call: () => ({ path: "/api/v1/deployments/current", headers: bearer(project.dev.apiKey) }) },

  // Unknown /api/* paths
  { name: "unknown: 404 JSON under /api/v1", status: 404, call: () => ({ path: "/api/v1/nothing-here" }) },
  { name: "unknown: 404 JSON under /api", status: 404, call: () => ({ method: "POST", path: "/api/whatever/else", body: {} }) },
];

describe("both lanes give identical responses", () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const lean = await send("lean", testCase.call("lean"));
      const remix = await send("remix", testCase.call("remix"));
      expect(lean.status, JSON.stringify(lean.body)).toBe(testCase.status);
      expect(comparable(remix)).toEqual(comparable(lean));
      expect(lean.headers["content-type"]).toBe("application/json; charset=utf-8");
      if (testCase.status >= 400) {
        expect(typeof lean.body.error).toBe("string");
        expect(Object.keys(lean.body).every((k) => k === "error" || k === "details")).toBe(true);
      }
    });
  }

  it("trigger: a new run answers {id, isCached:false}; the repeated key answers isCached:true with the same id", async () => {
    for (const lane of ["lean", "remix"] as const) {
      const first = await send(lane, trigger("email", {}, { "idempotency-key": `pair-${lane}` })());
      const again = await send(lane, trigger("email", { options: { idempotencyKey: `pair-${lane}` } })());
      expect(first.body).toEqual({ id: expect.stringMatching(/^run_[0-9a-z]{24}$/), isCached: false });
      expect(again.body).toEqual({ id: first.body.id, isCached: true });
    }
  });

  it("50 concurrent requests with one idempotency key create exactly one run, in each lane", async () => {
    for (const lane of ["lean", "remix"] as const) {
      const key = `concurrent-${lane}`;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => send(lane, trigger("email", { payload: { i } }, { "idempotency-key": key })())),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(results.filter((r) => r.body.isCached === false)).toHaveLength(1);
      expect(await prisma().taskRun.count({ where: { environmentId: project.prod.id, idempotencyKey: key } })).toBe(1);
    }
  });

  it("413 while streaming a chunked body without Content-Length, in both lanes", async () => {
    const chunk = Buffer.alloc(64 * 1024, "a");
    const streamed = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(Buffer.from('{"payload":"'));
          for (let i = 0; i < 20; i++) controller.enqueue(chunk); // 1.25 MiB
          controller.enqueue(Buffer.from('"}'));
          controller.close();
        },
      });
    const init = () => ({
      method: "POST",
      headers: { ...bearer(project.prod.apiKey), "content-type": "application/json" },
      body: streamed(),
      duplex: "half" as const,
    });
    // node:http rather than fetch: the server answers 413 and closes while the upload is still
    // going, and fetch may report the reset of the unsent rest instead of the answer it received.
    const lean = await new Promise<{ status: number; contentLength: string | undefined; body: string }>((resolve, reject) => {
      let answered = false;
      const request = httpRequest(`${server.url}/api/v1/tasks/email/trigger`, { method: "POST", headers: init().headers }, (response) => {
        answered = true;
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (d: string) => (body += d));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, contentLength: response.headers["content-length"], body }));
      });
      request.on("error", (error) => {
        if (!answered) reject(error);
      });
      request.write('{"payload":"');
      for (let i = 0; i < 20; i++) request.write(chunk);
      request.end('"}');
    });
    const { remixRequest } = await import("../support/remixApp");
    const remix = await remixRequest("/api/v1/tasks/email/trigger", init());
    expect(lean.contentLength).toBeDefined();
    expect(lean.status).toBe(413);
    expect(remix.status).toBe(413);
    expect(await remix.json()).toEqual(JSON.parse(lean.body));
  });

  it("a run created through either lane is read identically through both", async () => {
    const run = await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: prodRunId } });
    expect(run.tags).toEqual(["welcome"]);
    const lean = await send("lean", { path: `/api/v1/runs/${prodRunId}`, headers: bearer(project.prod.apiKey) });
    const remix = await send("remix", { path: `/api/v1/runs/${prodRunId}`, headers: bearer(project.prod.apiKey) });
    expect(remix).toMatchObject({ status: 200, body: lean.body });
    expect(lean.body).toMatchObject({ id: prodRunId, queue: "emails", ttl: "5m", taskKind: "STANDARD", idempotencyKey: "setup-run" });
  });
});
