import { readdirSync, readFileSync, statSync } from "node:fs";
import { timingSafeEqual } from "node:crypto";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashPassword, verifyPassword } from "~/models/user.server";
import { metricsAccess } from "~/services/metrics.server";
import { computeSignature, matchSecret } from "~/services/webhookSignature.server";

/**
 * Secrets are compared in constant time (docs/security.md): every comparison of a secret the
 * client sends with one the server knows goes through crypto.timingSafeEqual on buffers of equal
 * length — the webhook HMAC, the METRICS_TOKEN and admin passwords — and inputs of another length
 * are refused without throwing (timingSafeEqual throws on unequal lengths) and without an early
 * `===`. API keys are never compared at all: they are looked up by their sha256 hash.
 */

vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const spy = vi.mocked(timingSafeEqual);

afterEach(() => spy.mockClear());

function comparedLengths(): [number, number][] {
  return spy.mock.calls.map(([a, b]) => [a.byteLength, b.byteLength]);
}

describe("the webhook signature", () => {
  const secret = "whsec_constant_time";
  const body = Buffer.from('{"environment":"prod","version":"1","tasks":[]}');
  const timestamp = 1_700_000_000;
  const request = { method: "POST", target: "/api/v1/deployments", body };
  const right = Buffer.from(computeSignature(secret, timestamp, request), "hex");

  it("is compared with timingSafeEqual against every candidate of the right length; other lengths are skipped, never thrown on", () => {
    const wrong = Buffer.from(right);
    wrong[0] ^= 0xff;
    const candidates = [Buffer.alloc(16, 1), wrong, Buffer.alloc(64, 2), right];
    expect(matchSecret({ timestamp, v2: candidates, v1: [] }, secret, request)).toBe(right.toString("hex"));
    // Both 32-byte candidates were compared, including the one after the match was found.
    expect(comparedLengths()).toEqual([
      [32, 32],
      [32, 32],
    ]);
  });

  it("a wrong signature of equal length and one of unequal length both simply fail", () => {
    const wrong = Buffer.alloc(32, 7);
    expect(matchSecret({ timestamp, v2: [wrong], v1: [] }, secret, request)).toBeNull();
    expect(matchSecret({ timestamp, v2: [Buffer.alloc(31, 7)], v1: [] }, secret, request)).toBeNull();
    expect(comparedLengths()).toEqual([[32, 32]]);
  });
});

describe("the METRICS_TOKEN", () => {
  const token = "metrics-token-of-some-length";

  it("is compared as fixed-length digests, so tokens of any length are compared in constant time", () => {
    expect(metricsAccess(`Bearer ${token}`, token)).toBe("allowed");
    expect(metricsAccess("Bearer x", token)).toBe("unauthorized");
    expect(metricsAccess(`Bearer ${token}${"y".repeat(1000)}`, token)).toBe("unauthorized");
    expect(metricsAccess(`Bearer ${token.slice(0, -1)}X`, token)).toBe("unauthorized");
    expect(comparedLengths()).toEqual([
      [32, 32],
      [32, 32],
      [32, 32],
      [32, 32],
    ]);
  });
});

describe("admin passwords", () => {
  it("are verified with timingSafeEqual on the derived key; a stored hash of another length never throws", async () => {
    const stored = await hashPassword("correct horse");
    expect(await verifyPassword("correct horse", stored)).toBe(true);
    expect(await verifyPassword("wrong horse", stored)).toBe(false);
    expect(comparedLengths()).toEqual([
      [32, 32],
      [32, 32],
    ]);
    // A stored hash with a 16-byte key: the derived key takes its length, so the compare still runs.
    const short = stored.split("$").slice(0, 5).concat(Buffer.alloc(16).toString("base64")).join("$");
    expect(await verifyPassword("correct horse", short)).toBe(false);
  });
});

describe("no secret is compared with === anywhere in app/", () => {
  const root = path.resolve(import.meta.dirname, "../../app");
  function sources(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name);
      if (name === "generated") return [];
      if (statSync(full).isDirectory()) return sources(full);
      return /\.(ts|tsx)$/.test(name) ? [full] : [];
    });
  }
  // An identifier that names a secret or something derived from one, next to === or !==.
  const SECRET = String.raw`[\w.]*(?:secret|token|signature|password|passwd|digest|hmac|apiKey|keyHash)[\w.]*`;
  const EQUALITY = new RegExp(String.raw`${SECRET}\s*[!=]==(?!\s*(?:undefined|null|"|'|\d))|(?<!typeof\s+\S+\s*)[!=]==\s*${SECRET}`, "i");

  it("finds none (the compare sites use timingSafeEqual; API keys are looked up by hash)", () => {
    const offenders = sources(root).flatMap((file) =>
      readFileSync(file, "utf8")
        .split("\n")
        .map((line, i) => ({ line: line.trim(), where: `${path.relative(root, file)}:${i + 1}` }))
        .filter(({ line }) => !line.startsWith("*") && !line.startsWith("//") && EQUALITY.test(line)),
    );
    expect(offenders).toEqual([]);
  });

  it("the guard itself catches a plain comparison", () => {
    expect(EQUALITY.test("if (candidate.signature === expected) ok();")).toBe(true);
    expect(EQUALITY.test("return token !== configuredToken;")).toBe(true);
    expect(EQUALITY.test('if (options.secret === undefined) return;')).toBe(false);
  });

  it("the modules that compare secrets import timingSafeEqual", () => {
    for (const file of ["services/webhookSignature.server.ts", "services/metrics.server.ts", "models/user.server.ts"]) {
      expect(readFileSync(path.join(root, file), "utf8"), file).toMatch(/import \{[^}]*\btimingSafeEqual\b[^}]*\} from "node:crypto"/);
    }
  });
});
