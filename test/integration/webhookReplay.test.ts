import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import {
  authenticateSignedRequest,
  purgeUsedSignatures,
  SIGNATURE_TOLERANCE_SECONDS,
  signatureHeader,
} from "~/services/webhookSignature.server";
import { inProcess } from "../support/apiClient";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * Issue 12, findings 5 and 10: the record of used webhook signatures survives a Redis data loss,
 * and outlives every moment at which the tolerance still accepts the signature, also for one
 * timestamped in the future. The data loss is this file's: every key under its own prefix is
 * deleted (the shared Redis is never flushed; other files' keys are not touched).
 */

let project: TestProject;
let redis: Redis;

beforeAll(async () => {
  project = await createTestProject();
  redis = new Redis(process.env.REDIS_URL!);
});

afterAll(() => {
  redis?.disconnect();
});

/** Everything this file's app code wrote to Redis, gone (as after a restart without persistence). */
async function loseThisFilesRedisData(): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${process.env.REDIS_KEY_PREFIX}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) deleted += await redis.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}

const signed = (version: string, timestamp?: number) => {
  const raw = JSON.stringify({ environment: "prod", version, tasks: [] });
  const header = signatureHeader(project.webhookSecret, { method: "POST", target: "/api/v1/deployments", body: raw }, timestamp);
  return { header, raw, send: () => inProcess({ path: "/api/v1/deployments", headers: { "x-hotpath-signature": header }, body: raw }) };
};

describe("the replay record", () => {
  it("a used signature is refused again after Redis lost all its data", async () => {
    const request = signed("after-data-loss");
    expect((await request.send()).status).toBe(200);
    expect(await loseThisFilesRedisData()).toBeGreaterThan(0);
    expect(await request.send()).toMatchObject({ status: 401, body: { error: "Signature has already been used (replay); sign the request again" } });
  });

  it("a signature timestamped at the edge of the future tolerance stays refused until it can no longer be fresh", async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = now + SIGNATURE_TOLERANCE_SECONDS;
    const request = signed("future-skew", t);
    const authenticate = (nowSeconds: number) =>
      authenticateSignedRequest({
        header: request.header,
        request: { method: "POST", target: "/api/v1/deployments", body: Buffer.from(request.raw) },
        environmentSlug: "prod",
        nowSeconds,
      });
    await expect(authenticate(now)).resolves.toMatchObject({ id: project.prod.id });
    await expect(authenticate(now)).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/already been used/) });
    // The last second the tolerance accepts this timestamp: t + 300 = now + 600 (when a 600 s
    // Redis TTL counted from first use had already let it through again). Purge as of then.
    const lastAccepted = t + SIGNATURE_TOLERANCE_SECONDS;
    await purgeUsedSignatures(new Date(lastAccepted * 1000));
    await expect(authenticate(lastAccepted)).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/already been used/) });
    // One second later the timestamp itself is refused; only then may the record go.
    await expect(authenticate(lastAccepted + 1)).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/tolerance/) });
    const stored = await prisma().usedWebhookSignature.findMany({ select: { expiresAt: true } });
    for (const row of stored) expect(row.expiresAt.getTime()).toBeGreaterThan(lastAccepted * 1000);
  });

  it("records whose signatures can no longer be fresh are purged", async () => {
    const far = new Date(Date.now() + 2 * 3_600_000);
    expect(await prisma().usedWebhookSignature.count()).toBeGreaterThan(0);
    await purgeUsedSignatures(far);
    expect(await prisma().usedWebhookSignature.count()).toBe(0);
  });
});
