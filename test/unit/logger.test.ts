import { afterEach, describe, expect, it, vi } from "vitest";

/** app/services/logger.server.ts: pino behind the old signature, same line shape and streams. */

afterEach(() => {
  vi.restoreAllMocks();
  vi.resetModules();
});

async function capture(level: string) {
  process.env.LOG_LEVEL = level;
  const { resetEnvForTests } = await import("~/env.server");
  resetEnvForTests();
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (err.push(String(chunk)), true));
  const { logger } = await import("~/services/logger.server");
  return { logger, out, err };
}

describe("logger", () => {
  it("writes JSON lines with time, level, msg and the context; info on stdout, warn and error on stderr", async () => {
    const { logger, out, err } = await capture("debug");
    logger.info("run created", { runId: "run_1", count: 2 });
    logger.warn("cache error", { error: new TypeError("boom") });
    vi.restoreAllMocks();
    expect(out).toHaveLength(1);
    const info = JSON.parse(out[0]);
    expect(info).toMatchObject({ level: "info", msg: "run created", runId: "run_1", count: 2 });
    expect(new Date(info.time).toISOString()).toBe(info.time);
    expect(info).not.toHaveProperty("pid");
    expect(info).not.toHaveProperty("trace_id");
    const warn = JSON.parse(err[0]);
    expect(warn).toMatchObject({ level: "warn", msg: "cache error", error: { name: "TypeError", message: "boom" } });
    expect(warn.error.stack).toContain("boom");
  });

  it("keeps LOG_LEVEL", async () => {
    const { logger, out, err } = await capture("warn");
    logger.debug("no");
    logger.info("no");
    logger.error("yes");
    vi.restoreAllMocks();
    expect(out).toHaveLength(0);
    expect(err).toHaveLength(1);
  });
});
