import { describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { keyPrefix, redis } from "~/redis.server";

describe("test harness", () => {
  it("gives each file its own migrated database and counts its queries", async () => {
    const before = dbQueryCount();
    const rows = await prisma().$queryRaw<{ db: string }[]>`SELECT current_database()::text AS db`;
    expect(rows[0].db).toMatch(/^hotpath_t_[0-9a-f]{8}$/);
    expect(await prisma().organization.count()).toBe(0);
    expect(dbQueryCount() - before).toBe(2);
  });

  it("gives each file its own Redis key prefix", async () => {
    expect(keyPrefix()).toMatch(/^t[0-9a-f]{8}:$/);
    await redis().set(`${keyPrefix()}probe`, "1");
    expect(await redis().get(`${keyPrefix()}probe`)).toBe("1");
  });
});
