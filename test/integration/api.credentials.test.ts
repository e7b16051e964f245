import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { generateApiKey, hashApiKey } from "~/domain/apiKeys";
import { keyPrefix, redis } from "~/redis.server";
import { authenticateApiKey, forgetCachedApiKeys, revokeCachedApiKeys } from "~/services/apiKeyAuth.server";
import { rotateApiKey, rotateWebhookSecret } from "~/services/credentials.server";
import { signatureHeader } from "~/services/webhookSignature.server";
import { bearer, inProcess, overHttp, throughRemix, type ApiCall } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { closedPort } from "../support/cacheTesting";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * API keys are cached in Redis so that a warm trigger costs no Postgres query for auth; rotation
 * must still reject the old key at once, on every instance. The webhook secret is read on every
 * signed request. Both rotation scripts print the new value.
 */

// These tests count Postgres statements, not latency. On a loaded machine the 100 ms default
// Redis command timeout turns cache hits into fail-open Postgres lookups; give Redis room (the
// configuration is read on first use, after this line).
process.env.TASK_META_CACHE_COMMAND_TIMEOUT_MS = "2000";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");

let server: AppServer;
let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  server = await startAppServer();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const triggerCall = (key: string): ApiCall => ({ path: "/api/v1/tasks/anything/trigger", headers: bearer(key), body: {} });

async function queriesOf(call: () => Promise<unknown>): Promise<number> {
  const before = dbQueryCount();
  await call();
  return dbQueryCount() - before;
}

describe("the key → environment lookup", () => {
  it("costs one Postgres query when cold and none when warm", async () => {
    const { prod } = await createTestProject();
    expect(await queriesOf(() => authenticateApiKey(prod.apiKey))).toBe(1);
    for (let i = 0; i < 3; i++) {
      expect(await queriesOf(async () => expect(await authenticateApiKey(prod.apiKey)).toMatchObject({ id: prod.id, slug: "prod", type: "PRODUCTION" }))).toBe(0);
    }
    const cached = await redis().get(`${keyPrefix()}api-key:${hashApiKey(prod.apiKey)}`);
    expect(JSON.parse(cached!)).toMatchObject({ v: 1, id: prod.id });
    expect(cached).not.toContain(prod.apiKey);
  });

  it("remembers unknown keys for a while, so a flood of bad keys does not reach Postgres", async () => {
    const unknown = generateApiKey("PRODUCTION");
    await expect(authenticateApiKey(unknown)).rejects.toMatchObject({ status: 401 });
    expect(await queriesOf(() => authenticateApiKey(unknown).catch(() => {}))).toBe(0);
  });

  it("a tombstone wins over Postgres, and a fill never overwrites it (SET NX)", async () => {
    const { prod } = await createTestProject();
    const hash = hashApiKey(prod.apiKey);
    await revokeCachedApiKeys([hash]);
    await expect(authenticateApiKey(prod.apiKey)).rejects.toMatchObject({ status: 401 });
    await forgetCachedApiKeys([hash]);
    await expect(authenticateApiKey(prod.apiKey)).resolves.toMatchObject({ id: prod.id });
  });

  it("an entry that fails to decode is a miss, answered from Postgres", async () => {
    const { prod } = await createTestProject();
    await redis().set(`${keyPrefix()}api-key:${hashApiKey(prod.apiKey)}`, "{garbage", "EX", 60);
    await expect(authenticateApiKey(prod.apiKey)).resolves.toMatchObject({ id: prod.id });
  });
});

describe("API key rotation", () => {
  it("rejects the old key at once on every instance, even while it is cached warm there", async () => {
    // Warm on the spawned server (and so in Redis).
    for (let i = 0; i < 2; i++) expect((await overHttp(server.url, triggerCall(project.prod.apiKey))).status).toBe(200);
    const rotated = await rotateApiKey(project.prod.id);
    expect(rotated.apiKey).toMatch(/^tr_prod_[A-Za-z0-9]{32}$/);
    expect((await overHttp(server.url, triggerCall(project.prod.apiKey))).body).toEqual({ error: "Invalid API key" });
    expect((await throughRemix(triggerCall(project.prod.apiKey))).status).toBe(401);
    expect((await inProcess(triggerCall(project.prod.apiKey))).status).toBe(401);
    expect((await overHttp(server.url, triggerCall(rotated.apiKey))).status).toBe(200);
    const keys = await prisma().environmentApiKey.findMany({ where: { environmentId: project.prod.id }, select: { revokedAt: true } });
    expect(keys.filter((k) => k.revokedAt === null)).toHaveLength(1);
    project.prod.apiKey = rotated.apiKey;
  });

  it("scripts/rotate-api-key.ts prints a new key that works; the previous one stops working", async () => {
    const before = project.prod.apiKey;
    const { stdout } = await run(path.join(root, "node_modules/.bin/tsx"), ["scripts/rotate-api-key.ts", "prod", "--project", project.projectSlug], {
      cwd: root,
      env: process.env,
    });
    const newKey = stdout.trim();
    expect(newKey).toMatch(/^tr_prod_/);
    expect((await overHttp(server.url, triggerCall(newKey))).status).toBe(200);
    expect((await overHttp(server.url, triggerCall(before))).status).toBe(401);
    project.prod.apiKey = newKey;
  });
});

describe("webhook secret rotation", () => {
  const deployBody = (version: string) => JSON.stringify({ environment: "prod", version, tasks: [] });
  const signedDeploy = (secret: string, version: string) => {
    const raw = deployBody(version);
    return overHttp(server.url, { path: "/api/v1/deployments", headers: { "x-hotpath-signature": signatureHeader(secret, { method: "POST", target: "/api/v1/deployments", body: raw }) }, body: raw });
  };

  it("rejects signatures made with the old secret at once", async () => {
    expect((await signedDeploy(project.webhookSecret, "before-rotation")).status).toBe(200);
    const { webhookSecret } = await rotateWebhookSecret(project.projectId);
    expect(webhookSecret).not.toBe(project.webhookSecret);
    expect(await signedDeploy(project.webhookSecret, "old-secret")).toMatchObject({ status: 401, body: { error: "Invalid signature" } });
    expect((await signedDeploy(webhookSecret, "new-secret")).status).toBe(200);
    project.webhookSecret = webhookSecret;
  });

  it("scripts/rotate-webhook-secret.ts prints the new secret", async () => {
    const { stdout } = await run(path.join(root, "node_modules/.bin/tsx"), ["scripts/rotate-webhook-secret.ts", project.projectId], {
      cwd: root,
      env: process.env,
    });
    const secret = stdout.trim();
    expect(secret).toMatch(/^whsec_[0-9a-f]{48}$/);
    expect((await signedDeploy(project.webhookSecret, "old-after-script")).status).toBe(401);
    expect((await signedDeploy(secret, "new-after-script")).status).toBe(200);
  });
});

describe("with Redis down", () => {
  it("key auth fails open to Postgres; signed requests still work and are still checked for replay (the record is in Postgres)", async () => {
    const down = await startAppServer({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    try {
      const { prod, webhookSecret } = await createTestProject();
      expect((await overHttp(down.url, triggerCall(prod.apiKey))).status).toBe(200);
      const raw = JSON.stringify({ environment: "prod", version: "no-redis", tasks: [] });
      const call = { path: "/api/v1/deployments", headers: { "x-hotpath-signature": signatureHeader(webhookSecret, { method: "POST", target: "/api/v1/deployments", body: raw }) }, body: raw };
      expect((await overHttp(down.url, call)).status).toBe(200);
      expect(await overHttp(down.url, call)).toMatchObject({ status: 401, body: { error: expect.stringMatching(/already been used/) } });
      const keyed = await overHttp(down.url, { path: "/api/v1/deployments", headers: bearer(prod.apiKey), body: { version: "no-redis-key", tasks: [] } });
      expect(keyed.status).toBe(200);
    } finally {
      await down.stop();
    }
  });
});
