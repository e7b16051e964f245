import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { resetEnvForTests } from "~/env.server";
import { computeV1Signature, signatureHeader } from "~/services/webhookSignature.server";
import { bearer, inProcess, type ApiResult } from "../support/apiClient";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * The deploy webhook and the promote route (docs/api.md), in-process on the shared router with real
 * Postgres and Redis: key and signature auth, idempotency and conflicts, and the flow
 * deploy → promote → trigger → GET run, including a roll-back.
 */

let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
});

const V1 = [
  { slug: "email", queue: { name: "emails", concurrencyLimit: 10 }, ttl: "5m", triggerSource: "STANDARD" },
  { slug: "digest", queue: { name: "digests" }, ttl: "1d", triggerSource: "SCHEDULED" },
];
const V2 = [
  { slug: "email", queue: { name: "emails-priority" }, ttl: 120, triggerSource: "AGENT" },
  { slug: "digest", queue: { name: "digests" }, ttl: "1d", triggerSource: "SCHEDULED" },
];

function deploy(body: unknown, key = project.prod.apiKey): Promise<ApiResult> {
  return inProcess({ path: "/api/v1/deployments", headers: bearer(key), body });
}

function promote(version: string, key = project.prod.apiKey, body: unknown = {}): Promise<ApiResult> {
  return inProcess({ path: `/api/v1/deployments/${encodeURIComponent(version)}/promote`, headers: bearer(key), body });
}

function signedDeploy(body: unknown, secret = project.webhookSecret, timestamp?: number) {
  const raw = JSON.stringify(body);
  return inProcess({ path: "/api/v1/deployments", headers: { "x-hotpath-signature": signatureHeader(secret, { method: "POST", target: "/api/v1/deployments", body: raw }, timestamp) }, body: raw });
}

async function triggeredRun(slug: string, key = project.prod.apiKey) {
  const triggered = await inProcess({ path: `/api/v1/tasks/${slug}/trigger`, headers: bearer(key), body: {} });
  expect(triggered.status, JSON.stringify(triggered.body)).toBe(200);
  const run = await inProcess({ path: `/api/v1/runs/${triggered.body.id}`, headers: bearer(key) });
  return run.body;
}

describe("deploy → promote → trigger → GET run", () => {
  it("runs take the promoted version's queue, ttl and kind; a roll-back restores the old version's", async () => {
    const v1 = await deploy({ version: "1.0.0", tasks: V1, promote: true });
    expect(v1.status, JSON.stringify(v1.body)).toBe(200);
    expect(v1.body).toMatchObject({ version: "1.0.0", promoted: true, deploymentId: expect.any(String) });
    expect(v1.body.tasks.map((t: { slug: string; queueName: string }) => [t.slug, t.queueName])).toEqual([
      ["email", "emails"],
      ["digest", "digests"],
    ]);
    expect(await triggeredRun("email")).toMatchObject({ queue: "emails", ttl: "5m", taskKind: "STANDARD", status: "QUEUED" });

    // Registered without promote: not current yet.
    const v2 = await deploy({ version: "2.0.0", tasks: V2 });
    expect(v2.body.promoted).toBe(false);
    expect(await triggeredRun("email")).toMatchObject({ queue: "emails" });

    const promoted = await promote("2.0.0");
    expect(promoted).toMatchObject({ status: 200, body: { version: "2.0.0", previousVersion: "1.0.0", promoted: true, workerId: v2.body.workerId } });
    expect(await triggeredRun("email")).toMatchObject({ queue: "emails-priority", ttl: "2m", taskKind: "AGENT" });

    const rolledBack = await promote("1.0.0");
    expect(rolledBack).toMatchObject({ status: 200, body: { version: "1.0.0", previousVersion: "2.0.0" } });
    expect(await triggeredRun("email")).toMatchObject({ queue: "emails", ttl: "5m", taskKind: "STANDARD" });
  });

  it("promoting the current version again is a 200 that re-writes the cache", async () => {
    const redisKeys = await import("~/redis.server");
    const client = redisKeys.redis();
    const pattern = `${redisKeys.keyPrefix()}task-meta:{${project.prod.id}}:current`;
    await client.del(pattern);
    const again = await promote("1.0.0");
    expect(again).toMatchObject({ status: 200, body: { version: "1.0.0", previousVersion: "1.0.0" } });
    expect(await client.exists(pattern)).toBe(1);
  });

  it("promote with promote:true on a re-sent version promotes it (roll-back through the webhook)", async () => {
    const resent = await deploy({ version: "2.0.0", tasks: V2, promote: true });
    expect(resent).toMatchObject({ status: 200, body: { version: "2.0.0", promoted: true } });
    expect(await triggeredRun("email")).toMatchObject({ queue: "emails-priority" });
    await promote("1.0.0");
  });
});

describe("deploy idempotency", () => {
  it("re-sending the same version and content returns 200 with the same ids and creates nothing", async () => {
    const body = { version: "idem-1", contentHash: "sha-abc", tasks: V1 };
    const first = await deploy(body);
    const workers = await prisma().backgroundWorker.count({ where: { environmentId: project.prod.id } });
    const second = await deploy(body);
    expect(second).toEqual(first);
    expect(await prisma().backgroundWorker.count({ where: { environmentId: project.prod.id } })).toBe(workers);
  });

  it("the same version with other content is a 409 and changes nothing", async () => {
    await deploy({ version: "idem-2", tasks: V1 });
    const conflict = await deploy({ version: "idem-2", tasks: V2 });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toContain("idem-2");
    const tasks = await prisma().backgroundWorkerTask.findMany({
      where: { worker: { environmentId: project.prod.id, version: "idem-2" } },
      select: { slug: true, queue: { select: { name: true } } },
      orderBy: { slug: "asc" },
    });
    expect(tasks).toEqual([
      { slug: "digest", queue: { name: "digests" } },
      { slug: "email", queue: { name: "emails" } },
    ]);
  });

  it("in DEVELOPMENT the newest registration is current (promoted) without promoting; a re-send is not", async () => {
    const first = await deploy({ version: "dev-1", tasks: V1 }, project.dev.apiKey);
    expect(first).toMatchObject({ status: 200, body: { promoted: true, deploymentId: null } });
    const again = await deploy({ version: "dev-1", tasks: V1, promote: true }, project.dev.apiKey);
    expect(again).toMatchObject({ status: 200, body: { promoted: false, workerId: first.body.workerId } });
    expect(await triggeredRun("digest", project.dev.apiKey)).toMatchObject({ queue: "digests", taskKind: "SCHEDULED" });
  });
});

describe("who may deploy where", () => {
  it("a prod key cannot deploy to dev (404) and nothing is created there", async () => {
    const result = await deploy({ environment: "dev", version: "sneaky", tasks: V1 });
    expect(result).toMatchObject({ status: 404, body: { error: "Environment 'dev' not found for this API key (the key belongs to 'prod')" } });
    expect(await prisma().backgroundWorker.count({ where: { environmentId: project.dev.id, version: "sneaky" } })).toBe(0);
  });

  it("a prod key naming its own environment works", async () => {
    expect((await deploy({ environment: "prod", version: "named", tasks: [] })).status).toBe(200);
  });

  it("a dev key cannot promote in prod", async () => {
    const result = await promote("1.0.0", project.dev.apiKey, { environment: "prod" });
    expect(result.status).toBe(404);
  });
});

describe("signed deploys (x-hotpath-signature)", () => {
  it("a good signature deploys to the named environment of the signing project", async () => {
    const result = await signedDeploy({ environment: "prod", version: "signed-1", tasks: V1 });
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    const worker = await prisma().backgroundWorker.findUniqueOrThrow({ where: { id: result.body.workerId }, select: { environmentId: true } });
    expect(worker.environmentId).toBe(project.prod.id);
  });

  it("each project's secret deploys only to its own environment, even when the slugs are the same", async () => {
    const other = await createTestProject();
    const result = await signedDeploy({ environment: "prod", version: "signed-other", tasks: [] }, other.webhookSecret);
    expect(result.status).toBe(200);
    const worker = await prisma().backgroundWorker.findUniqueOrThrow({ where: { id: result.body.workerId }, select: { environmentId: true } });
    expect(worker.environmentId).toBe(other.prod.id);
    // A `project` hint naming another project finds no matching secret.
    const mismatched = await signedDeploy({ environment: "prod", project: project.projectId, version: "x", tasks: [] }, other.webhookSecret);
    expect(mismatched).toMatchObject({ status: 401, body: { error: "Invalid signature" } });
  });

  it("a replayed signature is rejected, also when the copies arrive concurrently", async () => {
    const raw = JSON.stringify({ environment: "prod", version: "replay-1", tasks: [] });
    const header = signatureHeader(project.webhookSecret, { method: "POST", target: "/api/v1/deployments", body: raw });
    const send = () => inProcess({ path: "/api/v1/deployments", headers: { "x-hotpath-signature": header }, body: raw });
    const concurrent = await Promise.all([send(), send(), send()]);
    expect(concurrent.map((r) => r.status).sort()).toEqual([200, 401, 401]);
    const later = await send();
    expect(later).toMatchObject({ status: 401, body: { error: "Signature has already been used (replay); sign the request again" } });
  });

  it("adding a second v2 value does not make a replay look new", async () => {
    const raw = JSON.stringify({ environment: "prod", version: "replay-2", tasks: [] });
    const header = signatureHeader(project.webhookSecret, { method: "POST", target: "/api/v1/deployments", body: raw });
    const send = (h: string) => inProcess({ path: "/api/v1/deployments", headers: { "x-hotpath-signature": h }, body: raw });
    expect((await send(header)).status).toBe(200);
    expect((await send(`${header.replace("v2=", `v2=${"0".repeat(64)},v2=`)}`)).status).toBe(401);
  });

  it("wrong secret, stale or future timestamp, tampered body and malformed headers are 401s", async () => {
    const body = { environment: "prod", version: "never", tasks: [] };
    const now = Math.floor(Date.now() / 1000);
    expect((await signedDeploy(body, "whsec_not-the-secret")).body).toEqual({ error: "Invalid signature" });
    // Margins of a minute around the 300 s tolerance: `now` was read before the requests, and a
    // busy machine can take seconds to send them (a 1 s margin once let "now + 301" through).
    expect((await signedDeploy(body, project.webhookSecret, now - 360)).status).toBe(401);
    expect((await signedDeploy(body, project.webhookSecret, now + 360)).status).toBe(401);
    expect((await signedDeploy(body, project.webhookSecret, now - 240)).status).toBe(200);
    const header = signatureHeader(project.webhookSecret, { method: "POST", target: "/api/v1/deployments", body: JSON.stringify(body) });
    const tampered = await inProcess({
      path: "/api/v1/deployments",
      headers: { "x-hotpath-signature": header },
      body: JSON.stringify({ ...body, version: "tampered" }),
    });
    expect(tampered).toMatchObject({ status: 401, body: { error: "Invalid signature" } });
    for (const malformed of ["", "t=abc,v2=00", "v2=" + "0".repeat(64), `t=${now}`]) {
      const result = await inProcess({ path: "/api/v1/deployments", headers: { "x-hotpath-signature": malformed }, body: JSON.stringify(body) });
      expect(result.status).toBe(401);
    }
    expect(await prisma().backgroundWorker.count({ where: { version: "tampered" } })).toBe(0);
  });

  it("signed promote works and names its environment in the body", async () => {
    const raw = JSON.stringify({ environment: "prod" });
    const result = await inProcess({
      path: "/api/v1/deployments/2.0.0/promote",
      headers: { "x-hotpath-signature": signatureHeader(project.webhookSecret, { method: "POST", target: "/api/v1/deployments/2.0.0/promote", body: raw }) },
      body: raw,
    });
    expect(result).toMatchObject({ status: 200, body: { version: "2.0.0" } });
    await promote("1.0.0");
  });
});

describe("signature scheme v2: the signature is bound to its method and path (issue 12, finding 3)", () => {
  const signedPost = (target: string, body: string, signedTarget = target, timestamp?: number) =>
    inProcess({
      path: target,
      headers: { "x-hotpath-signature": signatureHeader(project.webhookSecret, { method: "POST", target: signedTarget, body }, timestamp) },
      body,
    });
  const current = async () =>
    (
      await prisma().workerDeploymentPromotion.findUniqueOrThrow({
        where: { environmentId_label: { environmentId: project.prod.id, label: "current" } },
        select: { worker: { select: { version: true } } },
      })
    ).worker.version;

  it("a signed promote of one version replayed to another version's path is refused, and promotes nothing", async () => {
    for (const version of ["bind-a", "bind-b"]) expect((await deploy({ version, tasks: [] })).status).toBe(200);
    await promote("bind-a");
    const raw = JSON.stringify({ environment: "prod" });
    const replayed = await signedPost("/api/v1/deployments/bind-b/promote", raw, "/api/v1/deployments/bind-a/promote");
    expect(replayed).toMatchObject({ status: 401, body: { error: "Invalid signature" } });
    expect(await current()).toBe("bind-a");
  });

  it("a signed deploy body sent to a promote path is refused (no roll-back)", async () => {
    expect((await deploy({ version: "bind-old", tasks: [] })).status).toBe(200);
    expect((await deploy({ version: "bind-new", tasks: [] })).status).toBe(200);
    await promote("bind-new");
    const raw = JSON.stringify({ environment: "prod", version: "bind-old", tasks: [] });
    const misrouted = await signedPost("/api/v1/deployments/bind-old/promote", raw, "/api/v1/deployments");
    expect(misrouted.status).toBe(401);
    expect(await current()).toBe("bind-new");
  });

  it("two different promotions with the same body in the same second are both accepted (not replays)", async () => {
    for (const version of ["same-a", "same-b"]) expect((await deploy({ version, tasks: [] })).status).toBe(200);
    const raw = JSON.stringify({ environment: "prod" });
    const t = Math.floor(Date.now() / 1000);
    expect((await signedPost("/api/v1/deployments/same-a/promote", raw, undefined, t)).status).toBe(200);
    expect((await signedPost("/api/v1/deployments/same-b/promote", raw, undefined, t)).status).toBe(200);
    expect(await current()).toBe("same-b");
  });

  it("v1 signatures are refused by default and accepted with WEBHOOK_ACCEPT_V1=true", async () => {
    const raw = JSON.stringify({ environment: "prod", version: "v1-scheme", tasks: [] });
    const t = Math.floor(Date.now() / 1000);
    const send = () =>
      inProcess({ path: "/api/v1/deployments", headers: { "x-hotpath-signature": `t=${t},v1=${computeV1Signature(project.webhookSecret, t, raw)}` }, body: raw });
    const refused = await send();
    expect(refused).toMatchObject({ status: 401, body: { error: expect.stringMatching(/v1 signatures are refused: sign with v2/) } });
    process.env.WEBHOOK_ACCEPT_V1 = "true";
    resetEnvForTests();
    try {
      expect((await send()).status).toBe(200);
    } finally {
      delete process.env.WEBHOOK_ACCEPT_V1;
      resetEnvForTests();
    }
  });
});
